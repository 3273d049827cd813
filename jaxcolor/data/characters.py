"""Cartoon characters drawn by DiceBear: colour, exact line art and a part map per drawing.

DiceBear (`pip install dicebear-core dicebear-styles`, in `jaxcolor[starter]`)
turns a style (a JSON file of parts and named colour slots) and options into an
SVG. Every slot here is first drawn in its own code colour; the three renders of
a drawing then swap the codes:

- colour: the codes become the drawing's colours;
- line art: ink slots stay ink, colour slots turn white (only where a style's
  ink outlines every region does this give clean lines: `StyleSpec.lineart`;
  the other styles get an XDoG sketch at build time);
- part map: each slot becomes a flat part code, rendered without antialiasing
  and snapped to the nearest code, so the map is exact.

A character is a style plus a choice of its components (hair, eyes, clothes...).
Each has `variants` drawings with another expression or accessory and
`colorings` sets of colours: drawings with one coloring share their colours,
drawings with one variant their features. All randomness comes from numpy
Generators seeded from (build seed, character index, stream, number).

Split (docs/characters_split.txt): the styles in HELDOUT_STYLES are never
trained on (split `style`); of the other styles' characters, those whose id
hashes below VAL_PERCENT go to `val`, the rest to `train`.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
from importlib import resources
import io
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image

from jaxcolor.errors import UserError

INSTALL_HINT = ("drawing characters needs dicebear-core, dicebear-styles and CairoSVG: "
                "pip install 'jaxcolor[starter]' (and apt-get install libcairo2)")

SPLITS = ("train", "val", "style")
# toon-head is held out whole: its thin, even pen line is unlike the brush-weight
# outlines of the trained line-art styles (as a user's pencil or pen sketch is), its
# line art is exact and it has the three colour roles (skin, hair, clothes); with 4-5
# options per part it is also the least varied style, so training loses least.
HELDOUT_STYLES = ("toon-head",)
VAL_PERCENT = 5
RESOLUTION = 256
# 32,000 drawings: 59 ms of CPU each, all in (measured), so about 16 minutes on 2 free
# cores, under the 25 minutes allowed for it, and ~27k training drawings, several passes
# of a 4-hour CPU run at 128-192 px without repeats.
NUM_CHARACTERS = 8000
COLORINGS = 2
VARIANTS = 2

INK_PART, PAPER_PART = 1, 0
# Luma (0-255) at or below which a fixed colour of a style counts as ink.
_DARK_LUMA = 60
# Random streams of one character (the third seed word).
_FEATURES, _VARIANT, _COLORING = 1, 2, 3
# A variant toggles each accessory with this chance.
_ACCESSORY_FLIP = 0.3


@dataclasses.dataclass(frozen=True)
class StyleSpec:
  """How jaxcolor draws one DiceBear style.

  Attributes:
    lineart: the ink slots alone give clean, exact line art (checked by eye).
    weight: characters of this style per round of the style rotation.
    kinds: colour slot -> how it is coloured: "ink" (always the style's ink:
      outlines, pupils), "line" (coloured lines: their own colour in the colour
      image, ink in the line art), "skin", "hair", "any" (clothes, accessories,
      any hue), "keep" (the style's own colours only: eye whites, teeth).
      Slots not named are "any".
    expression: components a variant changes (eyes, mouth...).
    accessories: components a variant may add or remove.
    exclude: component -> variants left out (drawn without outlines).
  """
  lineart: bool
  weight: int
  kinds: dict = dataclasses.field(default_factory=dict)
  expression: tuple = ()
  accessories: tuple = ()
  exclude: dict = dataclasses.field(default_factory=dict)


STYLES = {
    "adventurer": StyleSpec(
        True, 3, {"ink": "ink", "eyes": "ink", "skin": "skin", "hair": "hair",
                  "sclera": "keep", "teeth": "keep", "throat": "keep", "tongue": "keep",
                  "uvula": "keep", "lips": "keep", "glasses": "line"},
        ("eyes", "eyebrows", "mouth"), ("glasses", "earrings")),
    "micah": StyleSpec(
        True, 3, {"eyebrows": "ink", "eyes": "ink", "mouth": "ink", "facialHair": "ink",
                  "base": "skin", "hair": "hair", "glasses": "line", "earring": "line",
                  "eyeShadow": "keep"},
        ("eyes", "eyebrows", "mouth"), ("glasses", "earrings"),
        # Drawn as a flat fill with no outline: gone from the line art.
        {"hair": ("dougFunny", "mrT")}),
    "open-peeps": StyleSpec(
        True, 3, {"ink": "ink", "skin": "skin", "headContrast": "hair"},
        ("expression",), ("accessories",)),
    # The top (hair, hats) is drawn in strokes of its own colour: coloured lines.
    "croodles": StyleSpec(
        True, 2, {"ink": "ink", "eyepatch": "ink", "facialHair": "ink", "glasses": "ink",
                  "base": "skin", "top": "line"},
        ("eyes", "mouth"), ()),
    "toon-head": StyleSpec(
        True, 2, {"stroke": "ink", "skin": "skin", "hair": "hair"},
        ("eyes", "eyebrows", "mouth"), ()),
    # No outlines around the hair (lorelei) or anywhere (the others): XDoG sketches.
    "lorelei": StyleSpec(
        False, 1, {"outline": "ink", "eyebrows": "ink", "eyes": "ink", "mouth": "ink",
                   "nose": "ink", "freckles": "ink", "skin": "skin", "hair": "hair"},
        ("eyes", "eyebrows", "mouth"), ("glasses", "earrings")),
    "big-ears": StyleSpec(False, 1, {"skin": "skin", "hair": "hair"}, ("eyes", "mouth"), ()),
    "big-smile": StyleSpec(False, 1, {"skin": "skin", "hair": "hair"}, ("eyes", "mouth"),
                           ("accessories",)),
    "personas": StyleSpec(False, 1, {"skin": "skin", "hair": "hair", "facialHair": "hair"},
                          ("eyes", "mouth"), ()),
    "avataaars": StyleSpec(False, 1, {"skin": "skin", "hair": "hair", "facialHair": "hair"},
                           ("eyes", "eyebrows", "mouth"), ("accessories",)),
    "miniavs": StyleSpec(False, 1, {"skin": "skin", "hair": "hair"}, ("eyes", "mouth"),
                         ("glasses",)),
}


# ------------------------------------------------------------------ styles


def _dicebear():
  try:
    import dicebear  # pylint: disable=g-import-not-at-top
    import dicebear_styles  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError as e:
    raise UserError(INSTALL_HINT) from e
  return dicebear


def require():
  """Raises UserError (one line, naming the extra) unless DiceBear and CairoSVG import."""
  _dicebear()
  _cairosvg()


def _cairosvg():
  try:
    import cairosvg  # pylint: disable=g-import-not-at-top
  except (ImportError, OSError) as e:
    raise UserError(INSTALL_HINT) from e
  return cairosvg


def _check_style(style: str):
  if style not in STYLES:
    raise UserError(f"unknown character style {style!r}; choose from {', '.join(STYLES)}")


@functools.lru_cache(maxsize=None)
def style_json(style: str) -> dict:
  """The style's definition (parts, colour slots, meta) as shipped by dicebear-styles."""
  _check_style(style)
  _dicebear()
  return json.loads(resources.files("dicebear_styles").joinpath(f"{style}.json")
                    .read_text("utf-8"))


_STYLE_OBJECTS = {}


def _style_object(style: str):
  if style not in _STYLE_OBJECTS:
    # DiceBear checks a style against its JSON schema here: about a second each.
    _STYLE_OBJECTS[style] = _dicebear().Style(style_json(style))
  return _STYLE_OBJECTS[style]


def style_objects(styles=None) -> dict:
  """{name: dicebear.Style}, checked once; hand them to worker processes with
  `install_style_objects` (they pickle in milliseconds) instead of checking again."""
  names = tuple(STYLES) if styles is None else tuple(styles)
  return {s: _style_object(s) for s in names}


def install_style_objects(objects: dict):
  """Makes this process use already checked styles (a pool initializer)."""
  _STYLE_OBJECTS.update(objects)


def license_of(style: str) -> dict:
  """{"license", "url", "attribution", "creator", "source"} from the style's `meta`."""
  meta = style_json(style).get("meta", {})
  lic = meta.get("license", {})
  return {"license": lic.get("name", ""), "url": lic.get("url", ""),
          "attribution": lic.get("text", ""),
          "creator": meta.get("creator", {}).get("name", ""),
          "source": meta.get("source", {}).get("url", "")}


def slot_names(style: str) -> list[str]:
  """The style's colour slots in the style file's order (its background left out)."""
  return [s for s in style_json(style).get("colors", {}) if s != "background"]


def _kind(style: str, slot: str) -> str:
  return STYLES[style].kinds.get(slot, "any")


def part_names(style: str) -> list[str]:
  """Names of the part map's values: paper, ink, the style's colour slots, other.

  Ink slots share value 1; "other" holds the style's fixed colours (eye
  highlights, blush) that belong to no slot.
  """
  return ["paper", "ink", *[s for s in slot_names(style) if _kind(style, s) != "ink"], "other"]


# -------------------------------------------------------- the split, the plan


def _rotation(styles) -> list[str]:
  """One round of styles, interleaved by weight (smooth weighted round robin)."""
  total = sum(STYLES[s].weight for s in styles)
  credit = {s: 0 for s in styles}
  out = []
  for _ in range(total):
    for s in styles:
      credit[s] += STYLES[s].weight
    pick = max(styles, key=lambda s: (credit[s], -styles.index(s)))
    credit[pick] -= total
    out.append(pick)
  return out


def parse_styles(styles: str | tuple | list | None = None) -> tuple[str, ...]:
  """A comma-separated list (or sequence) of style names; empty = every style, in order."""
  if isinstance(styles, str):
    styles = [s.strip() for s in styles.split(",") if s.strip()]
  if not styles:
    return tuple(STYLES)
  for s in styles:
    _check_style(s)
  return tuple(s for s in STYLES if s in styles)  # the table's order, without repeats


def character(index: int, styles=None) -> tuple[str, int]:
  """(style, number within the style) of character `index`."""
  rotation = _rotation(parse_styles(styles))
  rounds, rest = divmod(int(index), len(rotation))
  style = rotation[rest]
  return style, rounds * STYLES[style].weight + rotation[:rest].count(style)


def character_id(style: str, number: int) -> str:
  return f"{style}/{number:06d}"


def _bucket(text: str) -> int:
  return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % 100


def split_of(character_name: str) -> str:
  """`style` for a held-out style, `val` when the id hashes below VAL_PERCENT, else `train`."""
  style = character_name.split("/", 1)[0]
  if style in HELDOUT_STYLES:
    return "style"
  return "val" if _bucket(character_name) < VAL_PERCENT else "train"


def plan(num_characters: int, colorings: int = COLORINGS, variants: int = VARIANTS,
         styles=None, limit: int = 0) -> dict[str, list[tuple[int, int, int]]]:
  """{split: [(character index, coloring, variant)]}, in the order they are stored.

  `limit` keeps the first N drawings (a trial build). In a build too small to
  hash any character into `val`, the trained character with the lowest hash goes
  there, so that both splits exist (it moves back once a lower one is added).
  """
  chars = [(i, character_id(*character(i, styles))) for i in range(int(num_characters))]
  side = {i: split_of(name) for i, name in chars}
  trained = [(i, name) for i, name in chars if side[i] != "style"]
  if len(trained) > 1 and not any(side[i] == "val" for i, _ in trained):
    side[min(trained, key=lambda item: (_bucket(item[1]), item[1]))[0]] = "val"
  out = {s: [] for s in SPLITS}
  count = 0
  for i, _ in chars:
    for c in range(colorings):
      for v in range(variants):
        if limit and count >= limit:
          return out
        out[side[i]].append((i, c, v))
        count += 1
  return out


def split_text(num_characters: int = NUM_CHARACTERS, styles=None) -> str:
  """The split as recorded in docs/characters_split.txt: the rule, then the held-out ids."""
  names = [character_id(*character(i, styles)) for i in range(num_characters)]
  count = {s: sum(split_of(n) == s for n in names) for s in SPLITS}
  val = sorted(n for n in names if split_of(n) == "val")
  lines = [
      "# dicebear_characters split (jaxcolor/data/characters.py), for the default build of",
      f"# {num_characters} characters; a character id is <style>/<number within the style>.",
      f"# style: every character of {', '.join(HELDOUT_STYLES)}, never trained on "
      f"({count['style']} characters)",
      f"# val:   characters of the other styles whose id hashes below {VAL_PERCENT}, "
      f"int(sha1(id).hexdigest(), 16) % 100 < {VAL_PERCENT} ({count['val']} characters)",
      f"# train: the rest ({count['train']} characters).",
      "# All drawings of a character (its colorings and variants) are on its side.",
      "# The val characters:",
  ]
  return "\n".join(lines + val) + "\n"


# ---------------------------------------------------------------- features


def features(style: str, seed: int, index: int) -> dict[str, str | None]:
  """Character `index`'s component choices: {component: variant, or None when absent}."""
  rng = np.random.default_rng([int(seed), int(index), _FEATURES])
  spec, comps = STYLES[style], style_json(style)["components"]
  out = {}
  for comp in sorted(comps):
    names = sorted(n for n in comps[comp]["variants"] if n not in spec.exclude.get(comp, ()))
    # Both draws always happen, so one component never shifts another's.
    shown = rng.random() * 100 < comps[comp].get("probability", 100)
    pick = names[int(rng.integers(len(names)))]
    out[comp] = pick if shown else None
  return out


def variant_features(style: str, base: dict, seed: int, index: int, variant: int) -> dict:
  """The same character with another expression (eyes, mouth...) or accessory; 0 = base."""
  if variant == 0:
    return dict(base)
  rng = np.random.default_rng([int(seed), int(index), _VARIANT, int(variant)])
  spec, comps = STYLES[style], style_json(style)["components"]

  def others(comp):
    return sorted(n for n in comps[comp]["variants"]
                  if n != base.get(comp) and n not in spec.exclude.get(comp, ()))

  out = dict(base)
  changeable = [c for c in spec.expression if c in comps and others(c)]
  # Eyes or mouth always change (new eyebrows alone are hard to see), the rest at times.
  major = [c for c in changeable if c != "eyebrows"] or changeable
  first = major[int(rng.integers(len(major)))] if major else None
  for comp in changeable:
    if comp == first or rng.random() < 0.5:
      names = others(comp)
      out[comp] = names[int(rng.integers(len(names)))]
  for comp in spec.accessories:
    if comp in comps and rng.random() < _ACCESSORY_FLIP:
      names = others(comp)
      if base.get(comp) or not names:
        out[comp] = None
      else:
        out[comp] = names[int(rng.integers(len(names)))]
  return out


# ----------------------------------------------------------------- colours


def _hex(rgb) -> str:
  return "#%02x%02x%02x" % tuple(int(np.clip(round(float(c)), 0, 255)) for c in rgb)


def _hsv(h, s, v) -> str:
  i = int(h * 6) % 6
  f = h * 6 - int(h * 6)
  p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
  rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
  return _hex(np.asarray(rgb) * 255)


def _rgb(hex_color: str) -> np.ndarray:
  h = hex_color.lstrip("#")
  return np.array([int(h[i:i + 2], 16) for i in (0, 2, 4)], np.float64)


# From light to dark; realistic tones interpolate between neighbours.
_SKIN_TONES = ("#ffe6d0", "#f7cfae", "#eab692", "#d9a077", "#c18559", "#a06a44", "#7c4f32",
               "#5c3a25", "#3f281b")
_HAIR_TONES = ("#111111", "#2c1b18", "#4a312c", "#724133", "#a55728", "#b58143", "#d6b370",
               "#ecdcbf", "#c93305", "#e8e1e1", "#8d8d8d")


def _between(rng, tones) -> str:
  t = rng.random() * (len(tones) - 1)
  lo = int(t)
  hi = min(lo + 1, len(tones) - 1)
  rgb = (1 - (t - lo)) * _rgb(tones[lo]) + (t - lo) * _rgb(tones[hi])
  return _hex(rgb + rng.uniform(-8, 8, 3))


def _own(rng, values) -> str:
  return values[int(rng.integers(len(values)))].lower()


def _skin(rng, values):
  r = rng.random()
  if r < 0.15:
    return _own(rng, values)
  if r < 0.8:
    return _between(rng, _SKIN_TONES)
  return _hsv(rng.random(), rng.uniform(0.2, 0.6), rng.uniform(0.55, 0.97))  # fantasy skin


def _hair(rng, values):
  r = rng.random()
  if r < 0.25:
    return _own(rng, values)
  if r < 0.55:
    return _between(rng, _HAIR_TONES)
  return _hsv(rng.random(), rng.uniform(0.35, 1.0), rng.uniform(0.3, 1.0))


def _any(rng, values):
  if rng.random() < 0.25:
    return _own(rng, values)
  return _hsv(rng.random(), rng.uniform(0.1, 1.0), rng.uniform(0.2, 1.0))


def _line(rng, values):
  if rng.random() < 0.25:
    return _own(rng, values)
  return _hsv(rng.random(), rng.uniform(0.4, 1.0), rng.uniform(0.3, 0.85))


_SAMPLERS = {"skin": _skin, "hair": _hair, "any": _any, "line": _line, "keep": _own,
             "ink": lambda rng, values: values[0].lower()}


def colors(style: str, seed: int, index: int, coloring: int) -> dict[str, str]:
  """{slot: '#rrggbb'} of a character's coloring: the style's own lists and beyond."""
  rng = np.random.default_rng([int(seed), int(index), _COLORING, int(coloring)])
  spec = style_json(style)["colors"]
  return {s: _SAMPLERS[_kind(style, s)](rng, spec[s].get("values") or ["#000000"])
          for s in slot_names(style)}


# --------------------------------------------------------------- rendering


def _code(slot_index: int) -> str:
  # Code colours stand for slots in the SVG; no style uses colours this close to black-green.
  return f"#01f2{slot_index + 1:02x}"


def part_codes(count: int) -> np.ndarray:
  """(count, 3) uint8: white (paper), black (ink), then well-separated flat colours."""
  levels = (0, 85, 170, 255)
  rest = [(r, g, b) for r in levels for g in levels for b in levels
          if (r, g, b) not in ((0, 0, 0), (255, 255, 255))]
  if count > 2 + len(rest):
    raise ValueError(f"at most {2 + len(rest)} parts")
  return np.array([(255, 255, 255), (0, 0, 0), *rest][:count], np.uint8)


def character_svg(style: str, feats: dict) -> str:
  """DiceBear's SVG of a character, every colour slot in its code colour."""
  dicebear = _dicebear()
  # Plain strings, not lists: DiceBear validates every option against its schema, and a
  # string passes the first branch of each `anyOf` (lists cost it 5x the time).
  opts = {"seed": "jaxcolor"}
  for comp, variant in feats.items():
    if variant is None:
      opts[f"{comp}Probability"] = 0
    else:
      opts[f"{comp}Variant"] = variant
      opts[f"{comp}Probability"] = 100
  for i, slot in enumerate(slot_names(style)):
    opts[f"{slot}Color"] = _code(i)  # a flat fill: no style here defaults to gradients
  return dicebear.Avatar(_style_object(style), opts).to_string()


_PAINTS = ("fill", "stroke", "stop-color")
_STYLED = (*_PAINTS, "opacity", "fill-opacity", "stroke-opacity", "stop-opacity",
           "mix-blend-mode")


def _float(value, default=1.0) -> float:
  try:
    return float(value)
  except (TypeError, ValueError):
    return default


def _parse_color(value: str):
  v = value.strip().lower()
  v = {"black": "#000000", "white": "#ffffff"}.get(v, v)
  m = re.fullmatch(r"#([0-9a-f]{3}|[0-9a-f]{6})", v)
  if not m:
    return None
  d = m.group(1)
  return v if len(d) == 6 else "#" + "".join(c * 2 for c in d)


_HREFS = ("href", "{http://www.w3.org/1999/xlink}href")


def _inline_uses(root):
  """Replaces each <use> of a part by a copy of the part: the same picture, drawn by
  CairoSVG in about half the time (it re-reads the document for every <use>)."""
  ids = {el.get("id"): el for el in root.iter() if el.get("id")}
  parents = {child: parent for parent in root.iter() for child in parent}
  used = set()
  for _ in range(4):  # parts that use parts
    uses = [el for el in root.iter() if el.tag == "use"]
    if not uses:
      break
    for use in uses:
      href = next((use.get(h) for h in _HREFS if use.get(h)), "")
      ref = ids.get(href.lstrip("#")) if href.startswith("#") else None
      if ref is None:
        continue
      attrs = {k: v for k, v in use.attrib.items() if k not in (*_HREFS, "x", "y")}
      if use.get("x") or use.get("y"):
        attrs["transform"] = (f"{attrs.get('transform', '')} "
                              f"translate({use.get('x', '0')} {use.get('y', '0')})").strip()
      group = ET.Element("g", attrs)
      copy_ = copy.deepcopy(ref)
      copy_.attrib.pop("id", None)
      group.append(copy_)
      parent = parents[use]
      parent[list(parent).index(use)] = group
      parents.update({child: p for p in group.iter() for child in p})
      parents[group] = parent
      used.add(ref)
  for ref in used:  # only <use> pointed at the parts: their originals are dead weight
    parent = parents.get(ref)
    if parent is not None and parent.tag == "defs":
      parent.remove(ref)


class _Recolorer:
  """One parsed SVG whose paints are swapped per render (parsing once saves time)."""

  def __init__(self, svg: str):
    svg = re.sub(r"<metadata.*?</metadata>", "", svg, flags=re.S)
    self.root = ET.fromstring(svg)
    for el in self.root.iter():
      el.tag = el.tag.rsplit("}", 1)[-1]
    _inline_uses(self.root)
    self.elements = []
    self.sites = []  # (element, attribute, colour, effective opacity)
    self._walk(self.root, 1.0, 1.0, 1.0, False)

  def _walk(self, el, opacity, fill_op, stroke_op, frozen):
    self.elements.append(el)
    css = {}
    for part in (el.get("style") or "").split(";"):
      if ":" in part:
        k, v = part.split(":", 1)
        css[k.strip()] = v.strip()
    for k in _STYLED:  # a style attribute wins over the attribute: move it there
      if k in css:
        el.set(k, css.pop(k))
    if el.get("style") is not None:
      el.set("style", ";".join(f"{k}:{v}" for k, v in css.items()))
    opacity *= _float(el.get("opacity"))
    if el.get("mix-blend-mode", "normal") != "normal":
      opacity *= 0.5  # a blended layer is shading, never a region of its own
    fill_op = _float(el.get("fill-opacity"), fill_op)
    stroke_op = _float(el.get("stroke-opacity"), stroke_op)
    # Masks and clips keep their colours: there they mean coverage, not paint.
    frozen = frozen or el.tag in ("mask", "clipPath")
    if not frozen:
      for attr, own in (("fill", fill_op), ("stroke", stroke_op),
                        ("stop-color", _float(el.get("stop-opacity")))):
        value = el.get(attr)
        if value is None or value.strip() == "none":
          continue
        self.sites.append((el, attr, value, opacity * own))
    for child in el:
      self._walk(child, opacity, fill_op, stroke_op, frozen)

  def render_svg(self, paint, crisp=False) -> bytes:
    """`paint(value, opacity) -> new value` at every site; crisp: no antialiasing."""
    for el, attr, value, opacity in self.sites:
      el.set(attr, paint(value, opacity))
    for el in self.elements:
      if crisp:
        el.set("shape-rendering", "crispEdges")
      elif el.get("shape-rendering") == "crispEdges":
        el.attrib.pop("shape-rendering")
    self.root.set("xmlns", "http://www.w3.org/2000/svg")
    self.root.set("xmlns:xlink", "http://www.w3.org/1999/xlink")
    return ET.tostring(self.root)


def _render(svg: bytes, size: int) -> np.ndarray:
  png = _cairosvg().svg2png(bytestring=svg, output_width=size, output_height=size,
                            background_color="white", unsafe=False)
  return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _luma(hex_color: str) -> float:
  r, g, b = _rgb(hex_color)
  return (2126 * r + 7152 * g + 722 * b) / 10000


def snap_parts(rgb: np.ndarray, codes: np.ndarray) -> np.ndarray:
  """Each pixel -> the index of the nearest code colour: uint8 (H, W)."""
  rgb = rgb.astype(np.int32)
  codes32 = codes.astype(np.int32)
  key = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
  code_keys = (codes32[:, 0] << 16) | (codes32[:, 1] << 8) | codes32[:, 2]
  order = np.argsort(code_keys)
  at = np.clip(np.searchsorted(code_keys[order], key), 0, len(codes) - 1)
  out = order[at].astype(np.uint8)
  off = code_keys[order][at] != key
  if off.any():  # edges of masks and clips keep some antialiasing: the nearest code
    d = ((rgb[off][:, None, :] - codes32[None]) ** 2).sum(-1)
    out[off] = np.argmin(d, axis=-1)
  return out


def render_drawings(style: str, feats: dict, palettes: list[dict], size: int = RESOLUTION
                    ) -> dict:
  """Renders one character's features under several colourings.

  The line art and the part map depend on the features only, so they are
  rendered once for all the palettes.

  Args:
    style: a STYLES name.
    feats: from `features` / `variant_features`.
    palettes: [{slot: '#rrggbb'}], from `colors`.
    size: side length in pixels.

  Returns:
    {"images": [uint8 (size, size, 3)] one per palette, "lineart": uint8 (size,
    size) (white paper, black ink) or None where the style has no clean line
    art, "parts": uint8 (size, size), values indexing `part_names(style)`}.
  """
  slots = slot_names(style)
  slot_of = {_code(i): s for i, s in enumerate(slots)}
  names = part_names(style)
  part_of = {s: (INK_PART if _kind(style, s) == "ink" else names.index(s)) for s in slots}
  codes = part_codes(len(names))
  code_hex = [_hex(c) for c in codes]
  other = code_hex[len(names) - 1]
  doc = _Recolorer(character_svg(style, feats))

  def colour_paint(palette):
    def paint(value, opacity):
      del opacity
      slot = slot_of.get(value.strip().lower())
      return palette[slot] if slot else value
    return paint

  def line_paint(value, opacity):
    if opacity < 1:
      return "none"  # shading and highlights are no lines
    slot = slot_of.get(value.strip().lower())
    if slot:
      return "#000000" if _kind(style, slot) in ("ink", "line") else "#ffffff"
    c = _parse_color(value)
    return "#000000" if c and _luma(c) <= _DARK_LUMA else "#ffffff"

  def part_paint(value, opacity):
    if opacity < 1:
      return "none"  # translucent layers belong to the part under them
    slot = slot_of.get(value.strip().lower())
    if slot:
      return code_hex[part_of[slot]]
    c = _parse_color(value)
    return code_hex[INK_PART] if c and _luma(c) <= _DARK_LUMA else other

  images = [_render(doc.render_svg(colour_paint(p)), size) for p in palettes]
  lineart = None
  if STYLES[style].lineart:
    lineart = np.asarray(Image.fromarray(_render(doc.render_svg(line_paint), size)).convert("L"))
  parts = snap_parts(_render(doc.render_svg(part_paint, crisp=True), size), codes)
  return {"images": images, "lineart": lineart, "parts": parts}


def render_drawing(style: str, feats: dict, palette: dict, size: int = RESOLUTION) -> dict:
  """One drawing: {"image", "lineart", "parts"} as in `render_drawings`."""
  out = render_drawings(style, feats, [palette], size)
  return {"image": out["images"][0], "lineart": out["lineart"], "parts": out["parts"]}


def character_drawings(index: int, colorings: int = COLORINGS, variants: int = VARIANTS, *,
                       seed: int = 0, styles=None, size: int = RESOLUTION) -> list[dict]:
  """Every drawing of character `index`, in stored order (coloring, then variant).

  Each is a dict: "image", "lineart", "parts" (as in `render_drawings`),
  "style", "character" (id), "name" (unique), "coloring", "variant".
  """
  style, number = character(index, styles)
  cid = character_id(style, number)
  base = features(style, seed, index)
  palettes = [colors(style, seed, index, c) for c in range(colorings)]
  by_variant = [render_drawings(style, variant_features(style, base, seed, index, v), palettes,
                                size) for v in range(variants)]
  out = []
  for c in range(colorings):
    for v in range(variants):
      r = by_variant[v]
      out.append({"image": r["images"][c], "lineart": r["lineart"], "parts": r["parts"],
                  "style": style, "character": cid, "name": f"{cid}/c{c}v{v}",
                  "coloring": c, "variant": v})
  return out


def false_colors(parts: np.ndarray) -> np.ndarray:
  """A part map in false colours for viewing: uint8 (H, W, 3)."""
  hues = [_rgb(_hsv((0.61803 * k) % 1.0, 0.65, 0.95)) for k in range(254)]
  palette = np.array([(255, 255, 255), (0, 0, 0), *hues], np.uint8)
  return palette[parts]


def partners(groups, keep: str = "coloring") -> np.ndarray:
  """For each example, another example of the same character, by index; -1 if none.

  Args:
    groups: rows [character index, coloring, variant] in stored order (a split's
      `info.metadata["groups"]`).
    keep: "coloring": the partner has the same colours and another variant (a
      reference for reference-based colouring); "variant": the same drawing
      under other colours.

  Returns:
    int64 (N,): the next such example after it, cycling within its set.
  """
  if keep not in ("coloring", "variant"):
    raise ValueError(f"keep must be coloring or variant, got {keep!r}")
  rows = np.asarray(groups, np.int64).reshape(-1, 3)
  col = 1 if keep == "coloring" else 2
  sets = {}
  for n, row in enumerate(rows):
    sets.setdefault((int(row[0]), int(row[col])), []).append(n)
  out = np.full(len(rows), -1, np.int64)
  for members in sets.values():
    if len(members) > 1:
      out[members] = np.roll(members, -1)
  return out
