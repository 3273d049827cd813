"""DiceBear characters: aligned renders, part maps, same-character sets, split, builder."""

import json
import pathlib
import sys

import numpy as np
import pytest
from scipy import ndimage

from jaxcolor import cli
from jaxcolor.data import builders
from jaxcolor.data import characters
from jaxcolor.errors import UserError

pytest.importorskip("cairosvg")
pytest.importorskip("dicebear")

ROOT = pathlib.Path(__file__).resolve().parent.parent
SIZE = 96
# micah: exact line art (with coloured-line slots); personas: no outlines (XDoG);
# toon-head: the held-out style.
STYLES = "micah,personas,toon-head"


def _first_characters(style, count):
  return [i for i in range(200) if characters.character(i, STYLES)[0] == style][:count]


@pytest.fixture(scope="module")
def drawn():
  """{style: [drawings of its first two characters]} at SIZE."""
  return {s: [d for i in _first_characters(s, 2)
              for d in characters.character_drawings(i, 2, 2, styles=STYLES, size=SIZE)]
          for s in ("micah", "personas")}


def _ink_like_parts(style):
  """Part values drawn as lines in the line art: ink, and the coloured-line slots."""
  names = characters.part_names(style)
  return [characters.INK_PART] + [k for k, n in enumerate(names)
                                  if characters.STYLES[style].kinds.get(n) == "line"]


def test_line_art_and_colour_align_to_the_pixel(drawn):
  for d in drawn["micah"]:
    lines, parts, image = d["lineart"], d["parts"], d["image"]
    assert lines.shape == (SIZE, SIZE) and lines.dtype == np.uint8
    ink = parts == characters.INK_PART
    luma = image.astype(np.float32) @ [0.299, 0.587, 0.114]
    # Ink of the colour image is ink of the line art, pixel for pixel (thin lines are
    # antialiased grey in both renders).
    assert np.mean(lines[ink] < 160) > 0.99 and np.mean(luma[ink] < 160) > 0.99
    coloured_lines = ndimage.binary_dilation(np.isin(parts, _ink_like_parts("micah")[1:]))
    assert np.mean(luma[(lines < 64) & ~coloured_lines] < 100) > 0.99
    # And every line of the line art lies on ink or a coloured line of the drawing.
    drawn_lines = ndimage.binary_dilation(np.isin(parts, _ink_like_parts("micah")))
    assert np.mean(drawn_lines[lines < 128]) > 0.99
    # Colour regions are paper in the line art.
    regions = ndimage.binary_erosion(~np.isin(parts, [0, *_ink_like_parts("micah")]))
    assert regions.any() and np.mean(lines[regions] > 200) > 0.97
  assert all(d["lineart"] is None for d in drawn["personas"])  # XDoG at build time


def test_part_maps_cover_the_drawing(drawn):
  for style, ds in drawn.items():
    names = characters.part_names(style)
    assert names[:2] == ["paper", "ink"] and names[-1] == "other"
    for d in ds:
      parts, image = d["parts"], d["image"]
      assert parts.dtype == np.uint8 and parts.max() < len(names)
      painted = image.min(-1) < 235
      covered = ndimage.maximum_filter(parts, 3) > 0  # antialiased edges: 1 px
      assert np.mean(covered[painted]) > 0.995, (d["name"], np.mean(covered[painted]))
      paper = ndimage.maximum_filter(parts, 3) == 0
      assert np.mean(image[paper].min(-1) > 245) > 0.99  # paper is white


def _medians(d):
  """{part: median colour} over the parts' inner pixels (edges are antialiased)."""
  names = characters.part_names(d["style"])
  inner = {k: ndimage.binary_erosion(d["parts"] == k) for k in range(2, len(names) - 1)}
  return {k: np.median(d["image"][m], axis=0) for k, m in inner.items() if m.sum() >= 40}


def test_same_character_drawings_share_colours(drawn):
  for ds in drawn.values():
    by = {(d["character"], d["coloring"], d["variant"]): d for d in ds}
    for (cid, c, v), d in by.items():
      if v:
        continue
      a, b = _medians(d), _medians(by[(cid, c, 1)])
      shared = set(a) & set(b)
      assert shared, cid
      for k in shared:  # same colours, another expression
        np.testing.assert_allclose(a[k], b[k], atol=2, err_msg=f"{cid} part {k}")
      other = _medians(by[(cid, 1 - c, 0)])  # the same features under other colours
      assert any(np.abs(a[k] - other[k]).max() > 10 for k in set(a) & set(other))
      assert np.array_equal(d["parts"], by[(cid, 1 - c, 0)]["parts"])
    assert len({d["name"] for d in ds}) == len(ds)


def test_variants_change_the_drawing_and_randomness_is_seeded():
  i = _first_characters("micah", 1)[0]
  base = characters.features("micah", 0, i)
  assert characters.features("micah", 0, i) == base
  assert characters.variant_features("micah", base, 0, i, 0) == base
  assert characters.variant_features("micah", base, 0, i, 1) != base
  assert characters.colors("micah", 0, i, 0) == characters.colors("micah", 0, i, 0)
  assert characters.colors("micah", 0, i, 0) != characters.colors("micah", 1, i, 0)
  assert all(characters.features("micah", 0, i)["hair"] not in ("dougFunny", "mrT")
             for i in range(40))
  once, again = (characters.character_drawings(i, 1, 1, styles=STYLES, size=48)[0]
                 for _ in range(2))
  for key in ("image", "lineart", "parts"):  # a rebuild writes the same pixels
    assert np.array_equal(once[key], again[key])


def test_split_keeps_each_character_on_one_side():
  plan = characters.plan(800, 2, 2)
  sides = {}
  for split, jobs in plan.items():
    for i, _, _ in jobs:
      sides.setdefault(i, set()).add(split)
  assert all(len(s) == 1 for s in sides.values())
  styles = {s: {characters.character(i)[0] for i, _, _ in plan[s]} for s in plan}
  assert styles["style"] == set(characters.HELDOUT_STYLES)
  assert not styles["train"] & set(characters.HELDOUT_STYLES)
  trained = [i for i, s in sides.items() if "style" not in s]
  assert 0.02 < sum("val" in sides[i] for i in trained) / len(trained) < 0.09
  assert any(characters.STYLES[s].lineart for s in characters.HELDOUT_STYLES)
  # The recorded split is the one the code makes.
  recorded = (ROOT / "docs" / "characters_split.txt").read_text()
  assert recorded == characters.split_text()


def test_partners_index_the_same_character():
  groups = [[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1], [3, 0, 0]]
  assert characters.partners(groups, "coloring").tolist() == [1, 0, 3, 2, -1]
  assert characters.partners(groups, "variant").tolist() == [2, 3, 0, 1, -1]


OPTS = {"num_characters": 6, "resolution": 64, "styles": STYLES}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  data_dir = tmp_path_factory.mktemp("characters")
  return data_dir, builders.build_dataset("dicebear_characters", data_dir, workers=0, **OPTS)


def test_builder_builds_and_reads_back(built):
  data_dir, stats = built
  assert stats["config"] == "r64_n6_micah.toon-head.personas" and stats["num_skipped"] == 0
  assert set(stats["splits"]) == {"train", "val", "style"}
  assert sum(stats["splits"].values()) == 6 * 4
  meta = builders.load_metadata("dicebear_characters", data_dir, **OPTS)
  assert meta["part_names"]["micah"] == characters.part_names("micah")
  assert meta["licenses"]["micah"]["license"] == "CC BY 4.0"
  names = set()
  for split in ("train", "val", "style"):
    source = builders.load_split("dicebear_characters", split, data_dir, **OPTS)
    groups = meta["groups"][split]
    assert len(source) == len(groups) == stats["splits"][split]
    for n in range(len(source)):
      e = source[n]
      assert e["image"].shape == (64, 64, 3) and e["sketch"].shape == (64, 64, 1)
      assert e["parts"].shape == (64, 64, 1) and e["parts"].dtype == np.uint8
      style = e["style"].decode()
      assert e["parts"].max() < len(meta["part_names"][style])
      i, c, v = groups[n]
      assert e["character"].decode() == characters.character_id(*characters.character(i, STYLES))
      assert (int(e["coloring"]), int(e["variant"])) == (c, v)
      assert e["license"].decode() == meta["licenses"][style]["license"]
      assert characters.split_of(e["character"].decode()) == split or split == "val"
      names.add(e["name"].decode())
    if split == "style":
      assert {source[n]["style"] for n in range(len(source))} == {b"toon-head"}
  assert len(names) == 24
  again = builders.build_dataset("dicebear_characters", data_dir, workers=0, **OPTS)
  assert again["already_built"] and again["splits"] == stats["splits"]


def test_a_failing_style_is_skipped_and_counted(tmp_path, monkeypatch, caplog):
  real = characters.character_svg

  def broken(style, feats):
    if style == "personas":
      raise ValueError("no such part")
    return real(style, feats)

  monkeypatch.setattr(characters, "character_svg", broken)
  stats = builders.build_dataset("dicebear_characters", tmp_path, workers=0, **OPTS)
  assert stats["num_skipped"] == 1 and "personas" in stats["skipped"][0][0]
  assert sum(stats["splits"].values()) == 5 * 4
  assert sum("personas" in r.getMessage() for r in caplog.records) == 1
  meta = builders.load_metadata("dicebear_characters", tmp_path, **OPTS)
  assert meta["skipped_drawings"] == 4 and "personas" not in meta["part_names"]


def test_missing_dicebear_is_one_line(monkeypatch, tmp_path, capsys):
  monkeypatch.setitem(sys.modules, "dicebear", None)  # import dicebear -> ImportError
  with pytest.raises(UserError) as e:
    characters.require()
  assert "pip install 'jaxcolor[starter]'" in str(e.value) and "\n" not in str(e.value)
  assert cli.main(["data", "characters", "--data-dir", str(tmp_path)]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "jaxcolor[starter]" in err[0]


def test_options_are_checked():
  with pytest.raises(UserError, match="unknown character style"):
    builders.make_config("dicebear_characters", styles="micah,nobody")
  with pytest.raises(UserError, match="num_characters"):
    builders.make_config("dicebear_characters", num_characters=0)
  cfg = builders.make_config("dicebear_characters", styles="personas, micah")
  assert cfg.styles == "micah,personas" and cfg.name == "r256_n8000_micah.personas"
  default = builders.make_config("dicebear_characters")
  assert default.name == builders.DicebearCharacters.BUILDER_CONFIGS[0].name
  assert json.loads(json.dumps(characters.license_of("open-peeps")))["license"] == "CC0 1.0"
