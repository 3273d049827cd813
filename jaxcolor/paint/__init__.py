"""What a painter works with: the closed regions of a sketch, flat colours, layers.

Pure numpy / scipy / Pillow on the host, below everything that runs a model:
`regions` splits line art into the areas its lines enclose, `flats` gives each region one
colour (from a coloured result or colour points) and cleans the paper, `layers` writes
line art, flats, shading and paper as PSD layers and PNG files.
"""
