"""Layers a painter can use: line art, shading, flats and paper, as a PSD and as PNG files.

  layers = make_layers(sketch, regions, flats, result_rgb)
  layers.save_psd("drawing.psd")         # needs psd-tools: pip install 'jaxcolor[layers]'
  layers.save_pngs("drawing_layers/")

Top to bottom:

| layer | blend | what |
|---|---|---|
| line art | multiply | the sketch as drawn (white paper, its lines) |
| shading | multiply, hidden | what the model adds: result / (flats x line art), at most 1 |
| flats | normal | one colour per region; transparent where the region is paper |
| paper | normal | white |

With the shading hidden the picture is the flat result (`composite`); shown, it darkens
the flats towards the model's own colours (its highlights, lighter than the flats, are
not in it). The PNG folder holds the same four pictures; there the line art is black
with the lines' darkness as alpha, which is the multiply layer for programs that only
stack layers normally.
"""

import dataclasses
import io
import os
import pathlib

import numpy as np
from PIL import Image

from jaxcolor.errors import UserError

# Top to bottom, as a painter reads the layer panel.
NAMES = ("line art", "shading", "flats", "paper")
# PNG files, numbered bottom to top so that a file listing stacks them in order.
FILE_NAMES = {"paper": "1_paper.png", "flats": "2_flats.png", "shading": "3_shading.png",
              "line art": "4_line_art.png"}
MISSING_PSD_TOOLS = "PSD layers need psd-tools: pip install 'jaxcolor[layers]'"


@dataclasses.dataclass(frozen=True)
class Layers:
  """The four layers of one result, uint8 arrays of the sketch's size.

  Attributes:
    line_art: (H, W) grey sketch, white paper (blend: multiply).
    shading: (H, W, 3) (blend: multiply; hidden in the PSD).
    flats: (H, W, 4) RGBA, alpha 0 on paper regions.
    paper: (H, W, 3) white.
  """
  line_art: np.ndarray
  shading: np.ndarray
  flats: np.ndarray
  paper: np.ndarray

  @property
  def size(self):
    """(width, height)."""
    return self.line_art.shape[1], self.line_art.shape[0]

  @property
  def composite(self):
    """The picture with the shading hidden (the flat result): uint8 (H, W, 3)."""
    a = self.flats[..., 3:].astype(np.uint16)
    under = (self.flats[..., :3] * a + self.paper * (255 - a) + 127) // 255
    return ((under * self.line_art[..., None].astype(np.uint16) + 127) // 255).astype(np.uint8)

  def images(self):
    """{name: PIL image} as the PSD holds them (RGB, flats RGBA)."""
    return {"line art": Image.fromarray(self.line_art, "L").convert("RGB"),
            "shading": Image.fromarray(self.shading, "RGB"),
            "flats": Image.fromarray(self.flats, "RGBA"),
            "paper": Image.fromarray(self.paper, "RGB")}

  def to_psd(self):
    """A psd_tools.PSDImage with the four named layers (the composite stored in it)."""
    try:
      from psd_tools import PSDImage  # pylint: disable=g-import-not-at-top
      from psd_tools.api.layers import PixelLayer  # pylint: disable=g-import-not-at-top
      from psd_tools.constants import BlendMode  # pylint: disable=g-import-not-at-top
    except ImportError:
      raise UserError(MISSING_PSD_TOOLS) from None
    psd = PSDImage.new("RGB", self.size, color=(255, 255, 255))
    images = self.images()
    for name in reversed(NAMES):  # a PSD lists its layers bottom first
      layer = PixelLayer.frompil(images[name], psd, name)
      if name in ("line art", "shading"):
        layer.blend_mode = BlendMode.MULTIPLY
      layer.visible = name != "shading"
      psd.append(layer)
    return psd

  def save_psd(self, path):
    """Writes the PSD to `path` (a file name or a binary file object)."""
    psd = self.to_psd()
    if isinstance(path, (str, os.PathLike)):
      psd.save(os.fspath(path))
    else:
      psd.save(path)

  def psd_bytes(self):
    buf = io.BytesIO()
    self.save_psd(buf)
    return buf.getvalue()

  def save_pngs(self, folder):
    """Writes the layers as PNG files into `folder` (created); returns their paths."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ink = np.zeros(self.line_art.shape + (4,), np.uint8)
    ink[..., 3] = 255 - self.line_art  # black, as opaque as the line is dark
    pictures = {"line art": Image.fromarray(ink, "RGBA"),
                "shading": Image.fromarray(self.shading, "RGB"),
                "flats": Image.fromarray(self.flats, "RGBA"),
                "paper": Image.fromarray(self.paper, "RGB")}
    paths = []
    for name in reversed(NAMES):
      path = folder / FILE_NAMES[name]
      pictures[name].save(path, compress_level=6)
      paths.append(path)
    return paths


def shading(result, flat_picture):
  """What the model adds over the flats as a multiply layer: result / flat, capped at 1."""
  result = np.asarray(result, np.float32)
  base = np.asarray(flat_picture, np.float32)
  ratio = np.where(base > 0, result / np.maximum(base, 1.0), 1.0)
  return np.clip(np.rint(255.0 * ratio), 0, 255).astype(np.uint8)


def make_layers(sketch, regions, flats, result):
  """The layers of a result.

  Args:
    sketch: uint8 (H, W), the line art.
    regions: `paint.regions.Regions` of the sketch.
    flats: `paint.flats.Flats` (e.g. `flats.flat_colors(regions, result)`).
    result: uint8 (H, W, 3), the model's plain result.
  """
  sketch = np.asarray(sketch, np.uint8)
  h, w = sketch.shape
  alpha = np.where(flats.paper[regions.labels], 0, 255).astype(np.uint8)
  flat_rgba = np.concatenate([flats.colors[regions.labels], alpha[..., None]], -1)
  paper = np.full((h, w, 3), 255, np.uint8)
  layers = Layers(line_art=sketch, shading=np.zeros((h, w, 3), np.uint8), flats=flat_rgba,
                  paper=paper)
  return dataclasses.replace(layers, shading=shading(result, layers.composite))
