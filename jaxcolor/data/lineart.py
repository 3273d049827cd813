"""Exactly aligned (colour, line art) pairs from vector drawings.

A drawing whose outlines are dark strokes over coloured fills (OpenMoji, much of
Open Clip Art) holds its own line art: render it once as it is (the colour
image) and once with every light fill and light stroke removed (the sketch).
The sketch is then line art drawn by a person, aligned to the pixel, unlike
lines extracted by a filter.

Rendering needs CairoSVG (`pip install 'jaxcolor[starter]'`, with the system's
libcairo2); it is imported only when a drawing is rendered.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image

from jaxcolor.errors import UserError

_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_NS = "http://www.w3.org/1999/xlink"
_SHAPES = {"path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "use"}
# Luma (0-255) at or below which a colour counts as ink: #333 outlines are, OpenMoji's
# dark skin tone (#6a462f, luma 76) is not.
DARK_LUMA = 60
_NAMED = {"black": (0, 0, 0), "white": (255, 255, 255), "none": None,
          "transparent": None}


def parse_color(value: str | None):
  """'#rgb' / '#rrggbb' / 'rgb(r,g,b)' / a few names -> (r, g, b); None when unknown."""
  if value is None:
    return None
  v = value.strip().lower()
  if v in _NAMED:
    return _NAMED[v]
  m = re.fullmatch(r"#([0-9a-f]{3}|[0-9a-f]{6})", v)
  if m:
    d = m.group(1)
    if len(d) == 3:
      d = "".join(c * 2 for c in d)
    return tuple(int(d[i:i + 2], 16) for i in (0, 2, 4))
  m = re.fullmatch(r"rgb\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)", v)
  if m:
    return tuple(min(int(x), 255) for x in m.groups())
  return None


def _is_dark(value: str | None) -> bool:
  rgb = parse_color(value)
  return rgb is not None and (2126 * rgb[0] + 7152 * rgb[1] + 722 * rgb[2]) / 10000 <= DARK_LUMA


def _local(tag: str) -> str:
  return tag.rsplit("}", 1)[-1]


def _style(el) -> dict:
  out = {}
  for part in (el.get("style") or "").split(";"):
    if ":" in part:
      k, v = part.split(":", 1)
      out[k.strip()] = v.strip()
  return out


def _paint(el, name, inherited):
  """Effective fill / stroke of an element: style wins over attribute, else inherited."""
  style = _style(el)
  if name in style:
    return style[name]
  return el.get(name, inherited)


def _set_paint(el, name, value):
  style = _style(el)
  if name in style:
    style[name] = value
    el.set("style", ";".join(f"{k}:{v}" for k, v in style.items()))
  el.set(name, value)


def _normalize(root):
  """Strips namespaces from element tags (files without xmlns parse the same)."""
  for el in root.iter():
    if isinstance(el.tag, str):
      el.tag = _local(el.tag)
  return root


def _parse(svg: bytes | str):
  try:
    return _normalize(ET.fromstring(svg))
  except ET.ParseError as e:
    raise UserError(f"not a readable SVG: {e}") from None


def _serialize(root) -> bytes:
  root.set("xmlns", _SVG_NS)
  root.set("xmlns:xlink", _XLINK_NS)
  # Namespaced attributes (xlink:href, inkscape:*) come back as {uri}name.
  for el in root.iter():
    for key in list(el.attrib):
      if key.startswith("{"):
        uri, name = key[1:].split("}", 1)
        value = el.attrib.pop(key)
        if uri == _XLINK_NS or name == "href":
          el.set("xlink:href" if uri == _XLINK_NS else "href", value)
  return ET.tostring(root)


def line_layer(svg: bytes | str) -> tuple[bytes, int]:
  """The drawing with only its dark strokes and dark fills: (svg bytes, kept shapes).

  SVG's default fill is black, so a shape with no fill given counts as ink
  (OpenMoji draws pupils and hair that way). Gradients and patterns are not ink.
  """
  root = _parse(svg)
  kept = 0

  def walk(el, fill, stroke):
    nonlocal kept
    if not isinstance(el.tag, str):
      return
    fill, stroke = _paint(el, "fill", fill), _paint(el, "stroke", stroke)
    if el.tag in _SHAPES:
      ink_fill, ink_stroke = _is_dark(fill), _is_dark(stroke)
      _set_paint(el, "fill", fill if ink_fill else "none")
      _set_paint(el, "stroke", stroke if ink_stroke else "none")
      kept += ink_fill or ink_stroke
    for child in el:
      walk(child, fill, stroke)

  walk(root, "black", "none")
  return _serialize(root), kept


def wrap_icon(body: str, width: int, height: int) -> bytes:
  """An Iconify icon body -> a standalone SVG document."""
  return (f'<svg xmlns="{_SVG_NS}" xmlns:xlink="{_XLINK_NS}" viewBox="0 0 {width} {height}">'
          f"{body}</svg>").encode()


def render(svg: bytes, size: int) -> np.ndarray:
  """SVG bytes -> uint8 RGB (size, size), the drawing fitted and centred on white."""
  try:
    import cairosvg  # pylint: disable=g-import-not-at-top
  except (ImportError, OSError) as e:
    raise UserError("rendering SVG needs CairoSVG and libcairo2: "
                    "pip install 'jaxcolor[starter]' (and apt-get install libcairo2)") from e
  root = _parse(svg)
  if root.get("viewBox") is None:
    # Without a viewBox a width/height would crop instead of scale.
    w = _length(root.get("width")) or 100.0
    h = _length(root.get("height")) or 100.0
    root.set("viewBox", f"0 0 {w} {h}")
  root.set("width", str(size))
  root.set("height", str(size))
  root.set("preserveAspectRatio", "xMidYMid meet")
  png = cairosvg.svg2png(bytestring=_serialize(root), output_width=size, output_height=size,
                         background_color="white", unsafe=False)
  return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _length(value):
  if not value:
    return None
  m = re.match(r"\s*([0-9.]+)", value)
  return float(m.group(1)) if m and value.strip()[-1:] != "%" else None


def render_pair(svg: bytes, size: int) -> tuple[np.ndarray, np.ndarray, int]:
  """(colour RGB, sketch gray, shapes kept as ink), both (size, size) uint8."""
  lines, kept = line_layer(svg)
  color = render(svg, size)
  sketch = np.asarray(Image.fromarray(render(lines, size)).convert("L"))
  return color, sketch, kept
