"""Line art from vector drawings and the starter's pairs, on small files written here."""

import json

import numpy as np
import pytest

from jaxcolor.data import builders
from jaxcolor.data import lineart
from jaxcolor.data import starter_data

pytest.importorskip("cairosvg")

# Dark outline over a coloured fill, a style-attribute fill, and a shape with no fill given
# (SVG's default: black ink).
ICON = ('<circle cx="36" cy="36" r="20" fill="#fcea2b"/>'
        '<rect x="10" y="10" width="10" height="10" style="fill:#ea5a47;stroke:none"/>'
        '<circle cx="30" cy="30" r="2"/>'
        '<g fill="none" stroke="#000" stroke-width="2"><circle cx="36" cy="36" r="20"/></g>')
NO_OUTLINE = '<rect x="8" y="8" width="56" height="56" fill="#3a7bd5"/><circle cx="36" cy="36" r="12" fill="#f5c542"/>'
GREY_ONLY = '<circle cx="36" cy="36" r="20" fill="none" stroke="#000" stroke-width="3"/>'


def test_line_layer_keeps_ink_drops_colour():
  svg, kept = lineart.line_layer(lineart.wrap_icon(ICON, 72, 72))
  text = svg.decode()
  assert kept == 2  # the default-black dot and the outline
  assert "#fcea2b" not in text and "fill:#ea5a47" not in text
  color, sketch, _ = lineart.render_pair(lineart.wrap_icon(ICON, 72, 72), 72)
  assert color.shape == (72, 72, 3) and sketch.shape == (72, 72)
  assert sketch[36, 36] > 240 and color[36, 36, 2] < 100  # fill gone from the sketch
  assert sketch[36, 16] < 100  # the outline stays (radius 20 from the centre)


def test_parse_color_forms():
  assert lineart.parse_color("#fff") == (255, 255, 255)
  assert lineart.parse_color("rgb(1, 2, 3)") == (1, 2, 3)
  assert lineart.parse_color("none") is None and lineart.parse_color("url(#g)") is None


def test_make_pair_methods():
  icon = lineart.wrap_icon(ICON, 72, 72)
  name, pair, method = starter_data.make_pair("openmoji/x", "icon", icon, 64)
  assert pair.shape == (64, 128, 3) and method == "lines"
  _, pair, method = starter_data.make_pair("o/y", "icon", lineart.wrap_icon(NO_OUTLINE, 72, 72), 64)
  assert method == "xdog" and pair is not None  # no outline layer: filter-made lines
  _, pair, why = starter_data.make_pair("o/z", "icon", lineart.wrap_icon(GREY_ONLY, 72, 72), 64)
  assert pair is None and why == "too little colour"
  _, pair, why = starter_data.make_pair("o/w", "icon", b"<svg", 64)
  assert pair is None and ("ParseError" in why or "SVG" in why)


def test_split_keeps_skin_tone_variants_together():
  names = [f"openmoji/detective{t}" for t in
           ("", "-light-skin-tone", "-medium-dark-skin-tone", "-dark-skin-tone")]
  assert len({starter_data.split_of(n) for n in names}) == 1
  assert starter_data.split_key(names[2]) == "openmoji/detective"


def test_prepare_and_build_on_a_small_sample(tmp_path, monkeypatch):
  icons = {f"thing{i}": {"body": ICON if i % 2 else NO_OUTLINE} for i in range(30)}
  icons["grey"] = {"body": GREY_ONLY}
  icons_json = tmp_path / "icons.json"
  icons_json.write_text(json.dumps({"width": 72, "height": 72, "icons": icons}))
  clipart = tmp_path / "clipart" / "animals"
  clipart.mkdir(parents=True)
  (clipart / "cat.svg").write_text(
      '<svg width="100" height="100"><rect x="10" y="10" width="80" height="80" '
      'style="fill:#cc5500;stroke:#000000;stroke-width:4"/></svg>')
  monkeypatch.setattr(starter_data, "fetch_sources",
                      lambda cache: {"icons": icons_json, "clipart": tmp_path / "clipart"})
  out = tmp_path / "pairs"
  counts = starter_data.prepare(out, resolution=64, workers=0, progress=False)
  assert counts["skipped"] == 1 and counts["train"] + counts["val"] == 31
  lines = (out / "split.txt").read_text().splitlines()
  assert len(lines) == 31 and all(l.split("\t")[0] in ("train", "val") for l in lines)
  assert "openclipart/animals/cat.svg" in "".join(lines)
  # Rerunning finds everything written and renders nothing again.
  again = starter_data.prepare(out, resolution=64, workers=0, progress=False)
  assert again["lines"] == again["xdog"] == 0 and again["train"] == counts["train"]
  if counts["val"] == 0:  # tfds writes no empty split; move one across for the build
    first = sorted((out / "train").glob("*.png"))[0]
    first.rename(out / "val" / first.name)
  stats = builders.build_dataset("anime_sketch_colorization_pair", tmp_path / "tfds",
                                 manual_dir=out, resolution=64, tag="starter", workers=0)
  assert stats["config"] == "r64_starter"
  assert sum(stats["splits"].values()) == 31 and stats["num_skipped"] == 0
  # --overwrite rebuilds in place (tfds' own overwrite mode failed on a built dataset).
  again = builders.build_dataset("anime_sketch_colorization_pair", tmp_path / "tfds",
                                 manual_dir=out, resolution=64, tag="starter", workers=0,
                                 overwrite=True)
  assert not again["already_built"] and again["splits"] == stats["splits"]
  source = builders.load_split("anime_sketch_colorization_pair", "train", tmp_path / "tfds",
                               resolution=64, tag="starter")
  example = source[0]
  assert np.asarray(example["image"]).shape == (64, 64, 3)
  assert np.asarray(example["sketch"]).shape == (64, 64, 1)
