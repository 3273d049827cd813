"""Colorize sketches with a trained generator: the `Colorizer` class and two CLI commands.

  jaxcolor colorize SKETCH [SKETCH ...] [--reference IMAGE | --palette HEX,...]
      [--points RGBA_IMAGE] [--checkpoint WORKDIR_OR_STEP_DIR [--step N] [--best]]
      [--out DIR] [--seed S] [--variations K] [--size N] [--cleanup]
      [--flat] [--layers] [--layers-dir DIR]

Without --checkpoint (or --model) the default model that ships with jaxcolor colours.
  jaxcolor palette IMAGE [--kind palette|histogram] [--k 9] [--lab] [--out swatch.png]

Any sketch size works: the sketch is resized to the working size (its own size up to
the model's `work_side` and `max_side`, or `size` on the long side) and padded with white
paper to a multiple of the generator's stride; the output is cropped, and a result
smaller than the sketch comes back under the sketch's own lines and regions
(`paint.upscale`). Each padded shape compiles once per Colorizer.
"""

import os
import pathlib
import sys
import warnings

import flax
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxcolor import color
from jaxcolor import defaults
from jaxcolor import hints
from jaxcolor import models
from jaxcolor import programs
from jaxcolor import sketch as sketch_lib
from jaxcolor.data import images
from jaxcolor.errors import ImageError, UserError
from jaxcolor.paint import flats as flats_lib
from jaxcolor.paint import layers as layers_lib
from jaxcolor.paint import regions as regions_lib
from jaxcolor.paint import upscale

DEFAULT_MAX_SIDE = defaults.MAX_SIDE
OUTPUT_SUFFIX = "_color"
# References are only summarised into 9 or 16 colours: this many pixels on the long side
# keep the estimate and cost K-means / bucketing nothing noticeable.
_MAX_REFERENCE_SIDE = 512
_WHITE = (255, 255, 255)


# --------------------------------------------------------------------------- inputs


def to_rgb(image):
  """Path, bytes, PIL image or uint8 array -> uint8 (H, W, 3), alpha over white."""
  return images.as_rgb(image, _WHITE)


def load_sketch(image, cleanup=False):
  """A sketch as users have it -> uint8 (H, W), white paper, dark lines.

  Colour and alpha are flattened onto white; white-on-black line art is inverted
  (`sketch.normalize_sketch`) and grey paper made white (`sketch.whiten_paper`);
  `cleanup` sharpens faint lines (`sketch.cleanup_sketch`).
  """
  rgb = to_rgb(image)
  if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
    gray = rgb[..., 0].copy()
  else:
    gray = np.asarray(Image.fromarray(rgb, "RGB").convert("L"), np.uint8)
  gray = sketch_lib.whiten_paper(sketch_lib.normalize_sketch(gray))
  if cleanup:
    gray = sketch_lib.cleanup_sketch(gray)
  return gray


def load_points(image):
  """Colour points as users draw them: path, bytes, PIL image or array -> uint8 (H, W, 4).

  Every pixel with alpha >= 128 is a point of its colour; an image without alpha has
  no transparent pixel, so all of it would be points: that is refused.
  """
  if isinstance(image, np.ndarray):
    arr = image
  else:
    if isinstance(image, Image.Image):
      img = image
    else:
      _, img = images.open_image(image)
    if img.mode not in ("RGBA", "LA", "PA") and "transparency" not in img.info:
      name = image if isinstance(image, (str, os.PathLike)) else "colour points image"
      raise UserError(f"{name}: colour points need an image with transparency (RGBA PNG); "
                      "every opaque pixel is a point")
    arr = np.asarray(img.convert("RGBA"), np.uint8)
  if arr.ndim != 3 or arr.shape[-1] != 4 or arr.dtype != np.uint8:
    raise UserError(f"colour points must be uint8 RGBA (H, W, 4), got {arr.dtype} {arr.shape}")
  return arr


def checkpoint_choice(args):
  """(step, which) for `Colorizer.from_checkpoint` from the --step / --best flags."""
  if args.best and args.step is not None:
    raise UserError("give only one of --step and --best")
  return args.step, "best" if args.best else "latest"


def check_hint_source(reference=None, palette=None, hint=None, points=None, kind="palette"):
  """Exactly one colour source (points alone count for the palette family); else UserError."""
  given = [name for name, v in (("reference", reference), ("palette", palette),
                                ("hint", hint)) if v is not None]
  if not given and points is not None and kind == "palette":
    return "points"
  if len(given) != 1:
    raise UserError("give exactly one of a reference image or a palette"
                    + (f" (got {' and '.join(given)})" if given else ""))
  return given[0]


def working_size(h, w, size=None, max_side=DEFAULT_MAX_SIDE, work_side=0):
  """(height, width) the generator sees, before padding to its stride.

  size None keeps (h, w) when the long side fits in max_side and in work_side (the
  model's working size; 0: none), else scales the long side down to the smaller; an int
  scales the long side to `size` (up or down). Aspect ratio is kept.
  """
  long_side = max(h, w)
  limit = min(int(max_side), int(work_side)) if work_side else int(max_side)
  target = int(size) if size else min(long_side, limit)
  if target == long_side:
    return h, w
  scale = target / long_side
  return max(1, round(h * scale)), max(1, round(w * scale))


def _pad_to(x, stride, value):
  """Pads (B, H, W, C) at the bottom / right to multiples of stride."""
  h, w = x.shape[1:3]
  ph, pw = -h % stride, -w % stride
  if not ph and not pw:
    return x
  return np.pad(x, ((0, 0), (0, ph), (0, pw), (0, 0)), constant_values=value)


# --------------------------------------------------------------------------- Colorizer


class ParamsMismatch(UserError):
  """The parameters do not fit the config's generator: no input can be coloured."""


class Colorizer:
  """A generator with its params, ready to colorize sketches of any size.

  Attributes:
    config: the training config (ml_collections.ConfigDict).
    kind: hint kind, "palette" or "histogram" (config.model.hint).
    stride: input sides are padded to multiples of this.
    step: the checkpoint step, when loaded from one.
    has_noise: whether seeds change the output (palette family with noise injection).
    dots: what colour points do, "fill" or "model" (`defaults.DOT_MODES`; see
      `colorize_sketch`).
  """

  def __init__(self, config, params, *, step=None, source=None, max_side=DEFAULT_MAX_SIDE,
               dots=defaults.DEFAULT_DOTS):
    if dots not in defaults.DOT_MODES:
      raise UserError(f"unknown dots mode {dots!r}: expected one of "
                      f"{', '.join(defaults.DOT_MODES)}")
    self.config = config
    self.dots = dots
    self.kind = config.model.hint
    self.model = models.make_generator(config.model)
    self.stride = self.model.stride
    # device_put, not jnp.asarray: that compiles a copy program per distinct shape (0.7 s
    # for the bundled model on the 2-core CPU, against 0.04 s).
    self.params = jax.device_put(params)
    self.step = step
    self.source = source
    self.max_side = int(max_side)
    # Sketches larger than this are coloured at this long side, then brought back under
    # their own lines (`paint.upscale`): the model's parts go astray far above the scale
    # it learnt at (README, "Large sketches"). 0: at the sketch's own size.
    self.work_side = int(config.model.get("work_side", 0) or 0)
    self.has_noise = (config.model.family in ("palette", "reference")
                      and bool(config.model.get("noise", False)))
    self.takes_points = models.uses_points(config.model)
    # (sketch shape, hint shape, random noise?) -> compiled forward; per instance, so that
    # dropping a Colorizer frees its executables.
    self._compiled = {}

  @classmethod
  def from_checkpoint(cls, path=None, step=None, which="latest", *, model=None, **kwargs):
    """Loads the generator of a training workdir or a step directory.

    With no path, the bundled model `model` ("palette" or "reference"; None: the
    default one, `starter.DEFAULT_MODEL`).
    """
    if path is None:
      from jaxcolor import starter  # pylint: disable=g-import-not-at-top
      if step is not None or which != "latest":
        raise UserError("--step and --best need --checkpoint: a bundled model has one step")
      config, params, step = starter.load(starter.weights_dir(model))
      return cls(config, params, step=step, source=starter.source_name(model), **kwargs)
    if model is not None:
      raise UserError("give --checkpoint or --model, not both")
    from jaxcolor import checkpoint  # Deferred: pulls in orbax.

    config, params, step = checkpoint.load_generator(path, step=step, which=which)
    return cls(config, params, step=step, source=str(path), **kwargs)

  @classmethod
  def from_args(cls, args, **kwargs):
    """The generator a command's --checkpoint / --step / --best / --model flags name."""
    step, which = checkpoint_choice(args)
    if getattr(args, "dots", None):
      kwargs.setdefault("dots", args.dots)
    return cls.from_checkpoint(args.checkpoint, step=step, which=which,
                               model=getattr(args, "model", None), **kwargs)

  # ------------------------------------------------------------------- hints

  def hint_colors(self, reference=None, palette=None, hint=None, points=None):
    """uint8 hint colours, (9, 3) or (4, 4, 3), from exactly one source.

    Args:
      reference: path, PIL image or uint8 array; its palette / strip histogram is used.
      palette: hex string or list of hex strings (palette family only).
      hint: precomputed uint8 colours of this model's hint kind.
      points: uint8 RGBA colour points: with no other source, their colours are the
        palette (palette family only).
    """
    if self.kind == hints.REFERENCE:
      return self._reference_hint(reference, palette, hint, points)
    source = check_hint_source(reference, palette, hint, points, self.kind)
    if source == "points":
      if np.any(points[..., 3] >= 128):
        return hints.palette_from_points(points)
      raise UserError("give exactly one of a reference image or a palette (the colour "
                      "points have no opaque pixel)")
    if hint is not None:
      hint = np.asarray(hint)
      if hint.shape != hints.HINT_SHAPES[self.kind] or hint.dtype != np.uint8:
        raise UserError(f"{self.kind} hint must be uint8 {hints.HINT_SHAPES[self.kind]}, "
                        f"got {hint.dtype} {hint.shape}")
      return hint
    if palette is not None:
      if self.kind != "palette":
        raise UserError(f"this model is conditioned on a {self.kind} hint: give a "
                        "reference image, not a palette")
      return hints.palette_from_text(palette)
    ref = to_rgb(reference)
    h, w = ref.shape[:2]
    if max(h, w) > _MAX_REFERENCE_SIDE:
      size = working_size(h, w, _MAX_REFERENCE_SIDE)
      ref = np.asarray(Image.fromarray(ref).resize(size[::-1], Image.Resampling.BOX))
    return hints.compute_hint(self.kind, ref, seed=0, **hints.hint_options(self.config))

  @property
  def reference_side(self):
    """Long side the reference family sees a reference at (its encoder's scale)."""
    return int(self.config.model.get("reference_side", 0) or self.config.image_size)

  def _reference_hint(self, reference, palette, hint, points):
    """The reference family's hint: the reference image at `reference_side`, uint8.

    A typed palette becomes a picture of flat blocks; colour points alone (no reference)
    give the uniform grey that the model was trained to read as "no reference".
    """
    source = check_hint_source(reference, palette, hint, points, "palette")
    side, multiple = self.reference_side, self.model.reference_stride
    if source == "points":
      return hints.no_reference(side)
    if source == "palette":
      return hints.palette_reference(hints.palette_from_text(palette), side)
    image = to_rgb(hint if source == "hint" else reference)
    return hints.fit_reference(image, side, multiple)

  # ------------------------------------------------------------------- forward

  def _forward_fn(self, sketch_shape, hint_shape, random):
    key = (tuple(sketch_shape), tuple(hint_shape), bool(random))
    fn = self._compiled.get(key)
    if fn is not None:
      return fn
    gen, kind = self.model, self.kind

    def forward(params, sketch, hint, points, rng=None):
      x = models.generator_input(kind, sketch, hint, points)
      reference = models.generator_reference(kind, hint)
      if rng is None:
        return gen.apply({"params": params}, x, reference, noise_mode="zero")
      return gen.apply({"params": params}, x, reference, noise_mode="random",
                       rngs={"noise": rng})

    points_shape = (None if not self.takes_points else
                    jax.ShapeDtypeStruct(tuple(sketch_shape[:3]) + (hints.POINT_CHANNELS,),
                                         jnp.float32))
    args = [self.params, jax.ShapeDtypeStruct(sketch_shape, jnp.float32),
            jax.ShapeDtypeStruct(hint_shape, jnp.float32), points_shape]
    if random:
      args.append(jax.random.key(0))
    where = programs.folder()
    name = where and programs.key(
        self.config.model.to_json(), jax.tree.map(lambda a: (a.shape, str(a.dtype)), self.params),
        key, self.takes_points, jax.tree.structure(args))

    def compiled():
      fn = programs.compile_and_keep(self._lowered(forward, args), where, name)
      self._compiled[key] = fn
      return fn

    kept = programs.load(where, name)
    if kept is None:
      return compiled()

    def first_call(*call_args):
      try:
        out = jax.block_until_ready(kept(*call_args))
      except (jax.errors.JaxRuntimeError, TypeError, ValueError):
        # A kept program that does not run here (another build wrote it, or the file is
        # damaged): forgotten, and this one traced and compiled as if it had never been.
        programs.forget(where, name)
        return compiled()(*call_args)
      self._compiled[key] = kept
      return out

    self._compiled[key] = first_call
    return first_call

  def _lowered(self, forward, args):
    try:
      return jax.jit(forward).lower(*args)
    except flax.errors.FlaxError as e:  # parameters saved for another model
      what = f"checkpoint {self.source} does" if self.source else "the parameters do"
      raise ParamsMismatch(f"{what} not fit the {self.config.model.family} generator of its "
                           f"config: {str(e).split(' (https://')[0][:300]}") from e

  def colorize_batch(self, sketch, hint, seed=None, points=None):
    """Float forward pass: sketch (B, H, W, 1), hint (B, ...) in [-1, 1] -> (B, H, W, 3).

    H and W may be anything: the sketch is padded with white to the stride and the output
    cropped back. seed None = zero noise (deterministic), int = noise from key(seed).
    points: (B, H, W, 4) point planes (`hints.points_from_rgba`) or None for none.
    Returns a numpy float32 array in [-1, 1].
    """
    sketch = np.asarray(sketch, np.float32)
    hint = np.asarray(hint, np.float32)
    if sketch.ndim != 4 or sketch.shape[-1] != 1:
      raise ValueError(f"sketch batch must be (B, H, W, 1), got {sketch.shape}")
    h, w = sketch.shape[1:3]
    planes = None
    if self.takes_points:
      if points is None:
        points = np.zeros(sketch.shape[:3] + (hints.POINT_CHANNELS,), np.float32)
      points = np.asarray(points, np.float32)
      if points.shape != sketch.shape[:3] + (hints.POINT_CHANNELS,):
        raise UserError(f"colour point planes must be {sketch.shape[:3] + (4,)} "
                        f"(batch, height, width, RGB + mask), got {points.shape}")
      planes = _pad_to(points, self.stride, 0.0)
    elif points is not None:
      raise UserError("this model takes no colour points: train one with "
                      "--config.model.points=True, or leave --points out")
    padded = _pad_to(sketch, self.stride, 1.0)
    fn = self._forward_fn(padded.shape, hint.shape, seed is not None)
    if seed is None:
      out = fn(self.params, padded, hint, planes)
    else:
      out = fn(self.params, padded, hint, planes, jax.random.key(int(seed)))
    return np.asarray(out)[:, :h, :w]

  def colorize_sketch(self, sketch_uint8, hint_uint8, seeds=(None,), size=None, points=None,
                      *, points_alone=False):
    """uint8 sketch (H, W) + uint8 hint [+ RGBA points] -> one PIL image per seed.

    The results are cleaned (`clean_result`): no stray pixels in the corner, no tint on
    the paper. With `self.dots == "fill"` and a sketch with closed regions, each dot then
    colours its region (`paint.flats.fill_dots`) and the network reads the dots only when
    they are the only colours given (`points_alone`): with a reference or a palette they
    cost it PSNR outside the dotted regions (README, "Colour points").
    """
    h, w = sketch_uint8.shape
    # The canvas: the sketch, scaled down to max_side. The model may see it smaller still
    # (its work_side, or --size); then the colours come back under the canvas's own lines
    # and the dots fill its own regions. Only a canvas smaller than the sketch (above
    # max_side) is enlarged plainly at the end: sizes up to max_side keep their lines.
    ch, cw = working_size(h, w, None, self.max_side)
    wh, ww = working_size(h, w, size, self.max_side, self.work_side)
    up = wh * ww < ch * cw
    def resized(hw):
      if hw == (h, w):
        return sketch_uint8
      return np.asarray(Image.fromarray(sketch_uint8, "L").resize(hw[::-1],
                                                                 Image.Resampling.LANCZOS))
    work = resized((wh, ww))
    canvas = resized((ch, cw)) if up else work
    x = color.to_float(work)[None, ..., None]
    hint = color.to_float(hint_uint8)[None]
    work_regions = regions_lib.segment(work)
    regions = regions_lib.segment(canvas) if up else work_regions
    fill = points is not None and self.dots == "fill" and regions.usable
    planes = None
    if points is not None and (points_alone or not fill):
      planes = hints.points_from_rgba(points, wh, ww)[0][None]
    dots = flats_lib.dots_from_rgba(regions, points) if fill else ()
    outs = []
    for seed in seeds:
      rgb = color.to_uint8(self.colorize_batch(x, hint, seed, planes)[0])
      rgb = clean_result(rgb, work, work_regions, ww + -ww % self.stride)
      if up:
        rgb = upscale.under_lines(rgb, work, canvas, regions.labels)
        rgb = flats_lib.clean_paper(rgb, canvas, regions)
      if fill:
        rgb = flats_lib.fill_dots(rgb, regions, dots)
      img = Image.fromarray(rgb, "RGB")
      if img.size != (w, h):
        img = img.resize((w, h), Image.Resampling.LANCZOS)
      outs.append(img)
    return outs

  def __call__(self, sketch, reference=None, palette=None, seed=None, size=None, *,
               points=None, hint=None, cleanup=False, flat=False):
    """Colorizes one sketch: PIL RGB image of the sketch's size.

    Args:
      sketch: path, PIL image or uint8 array (gray, RGB, RGBA, white-on-black).
      reference: reference image (path, PIL, uint8 array); or
      palette: hex colours, e.g. "#f0c0a0,#335" or ["#f0c0a0", "#335"] (palette family).
      seed: None = deterministic (zero noise); an int draws noise from key(seed).
      size: long side to work at (default: the sketch's own, at most `max_side`).
      points: colour points, an RGBA image (path, PIL, uint8 (H, W, 4)) of any size where
        every pixel with alpha >= 128 asks for its colour there; combines with a
        reference or palette, or alone gives the palette too. Each dot colours its
        closed region of the sketch, the shading kept (the Colorizer's `dots` mode).
      hint: precomputed uint8 hint colours instead of reference / palette.
      cleanup: sharpen faint sketches first.
      flat: flat colours: every closed region of the sketch gets one colour (the median
        of the result in it, or its colour point's colour), the paper is white and the
        lines are multiplied over (`jaxcolor.paint`). A sketch without closed regions
        gives the plain result and a `FlatsUnavailable` warning.
    """
    return self._colorize(sketch, reference, palette, hint, points, (seed,), size, cleanup,
                          flat)[0]

  def variations(self, sketch, reference=None, palette=None, k=4, seed=0, size=None, *,
                 points=None, hint=None, cleanup=False, flat=False):
    """k images from seeds seed .. seed + k - 1 (variation i equals seed=seed + i)."""
    if int(k) < 1:
      raise UserError(f"number of variations must be >= 1, got {k}")
    if int(k) > 1 and not self.has_noise:
      raise UserError(f"this {self.config.model.family} model has no noise injection: "
                      "all variations would be the same image")
    seed = 0 if seed is None else int(seed)
    return self._colorize(sketch, reference, palette, hint, points,
                          tuple(range(seed, seed + int(k))), size, cleanup, flat)

  def layers(self, sketch, reference=None, palette=None, seed=None, size=None, *,
             points=None, hint=None, cleanup=False):
    """The result as layers a painter can use: a `jaxcolor.paint.layers.Layers`.

    Arguments as for `__call__`. `.save_psd(path)` writes a PSD ("line art", "shading",
    "flats", "paper"), `.save_pngs(folder)` the same as PNG files, `.composite` is the
    flat result. A sketch without closed regions is a UserError.
    """
    gray, colors, rgba, alone = self._inputs(sketch, reference, palette, hint, points, cleanup)
    result = self.colorize_sketch(gray, colors, (seed,), size, rgba, points_alone=alone)[0]
    regions = regions_lib.segment(gray)
    if not regions.usable:
      raise UserError(f"no layers: {regions.problem}")
    return paint_layers(gray, regions, result, rgba)

  def _inputs(self, sketch, reference, palette, hint, points, cleanup):
    """(uint8 sketch, hint colours, RGBA points or None, whether the points are the only
    colours given) as `_colorize` reads them."""
    rgba = None if points is None else load_points(points)
    if rgba is not None and not self.takes_points:
      raise UserError("this model takes no colour points: train one with "
                      "--config.model.points=True, or leave the points out")
    colors = self.hint_colors(reference, palette, hint, points=rgba)
    alone = reference is None and palette is None and hint is None
    return load_sketch(sketch, cleanup), colors, rgba, alone

  def _colorize(self, sketch, reference, palette, hint, points, seeds, size, cleanup,
                flat=False):
    gray, colors, rgba, alone = self._inputs(sketch, reference, palette, hint, points, cleanup)
    results = self.colorize_sketch(gray, colors, seeds, size, rgba, points_alone=alone)
    if not flat:
      return results
    flat_results, problem = flatten_results(gray, results, rgba)
    if problem:
      warnings.warn(f"no flat colours: {problem}; the plain result is returned",
                    FlatsUnavailable, stacklevel=3)
    return flat_results


# --------------------------------------------------------------------------- flats, layers


def clean_result(rgb, sketch, regions, canvas_width):
  """A uint8 result without the model's two blemishes (README, "Clean outputs").

  The starter's generator grows a spike of huge activations in the top-right corner of
  whatever canvas it gets: in its last full-resolution layer 0.6% of the pixels hold ~80%
  of every GroupNorm group's variance (the "droplet" of StyleGAN2), so the spike sets the
  normalisation of the whole picture and a dozen saturated cyan and magenta pixels show
  through. Removing the spike would change every pixel; `paint.flats.repair_corner`
  paints over what shows, in that corner only. The model also leaves a faint tint on the
  paper: `paint.flats.clean_paper` takes it out of the paper regions.

  Args:
    rgb: uint8 (H, W, 3) result. sketch: uint8 (H, W). regions: the sketch's regions.
    canvas_width: width of the canvas the model ran on (the sketch padded to its stride).
  """
  rgb = flats_lib.repair_corner(rgb, sketch, regions, canvas_width)
  return flats_lib.clean_paper(rgb, sketch, regions)


def fill_dots_batch(out, sketch, points):
  """What `dots="fill"` makes of a float batch: (results, which sketches have regions).

  out: (B, H, W, 3) results in [-1, 1]; sketch: (B, H, W, 1) in [-1, 1]; points: point
  planes (B, H, W, 4). Each dot colours its closed region (`paint.flats.fill_dots`); a
  sketch without closed regions keeps its result, and its flag is False (the Colorizer
  gives such a sketch's dots to the network instead).
  """
  filled, usable = [], []
  for rgb, gray, planes in zip(np.asarray(out), np.asarray(sketch), np.asarray(points)):
    regions = regions_lib.segment(color.to_uint8(gray[..., 0]))
    usable.append(regions.usable)
    if regions.usable:
      dots = flats_lib.dots_from_rgba(regions, hints.points_rgba(planes))
      rgb = color.to_float(flats_lib.fill_dots(color.to_uint8(rgb), regions, dots))
    filled.append(rgb)
  return np.stack(filled).astype(np.float32), np.array(usable, bool)


class FlatsUnavailable(UserWarning):
  """The sketch has no closed regions to flat-colour: the plain result stands."""


def flatten_results(gray, results, points=None, regions=None):
  """Plain results of one sketch -> (flat results, None), or (results, why not).

  Args:
    gray: uint8 (H, W) sketch, the results' size.
    results: PIL images from `Colorizer.colorize_sketch`.
    points: RGBA colour points (any size) or None; a point's colour fills its region.
    regions: the sketch's `paint.regions.Regions`, if already computed.
  """
  regions = regions_lib.segment(gray) if regions is None else regions
  if not regions.usable:
    return list(results), regions.problem
  dots = [] if points is None else flats_lib.dots_from_rgba(regions, points)
  out = []
  for img in results:
    flats = flats_lib.flat_colors(regions, np.asarray(img), dots)
    out.append(Image.fromarray(flats_lib.flat_image(gray, regions, flats), "RGB"))
  return out, None


def paint_layers(gray, regions, result, points=None):
  """The `paint.layers.Layers` of one plain result (PIL or uint8) of a sketch."""
  rgb = np.asarray(result, np.uint8)
  dots = [] if points is None else flats_lib.dots_from_rgba(regions, points)
  flats = flats_lib.flat_colors(regions, rgb, dots)
  return layers_lib.make_layers(gray, regions, flats, rgb)


# --------------------------------------------------------------------------- colorize CLI


def _collect_inputs(paths, out_dir):
  """[(input path, output stem path without suffix)], plus missing paths.

  Files map to out/<stem>; folder contents to out/<path inside the folder>/<stem>.
  Files under `out_dir` are left out of folder listings (unless out_dir is the folder).
  """
  items, missing = [], []
  out_resolved = out_dir.resolve()
  for p in paths:
    p = pathlib.Path(p)
    if p.is_dir():
      # An --out folder inside the input folder holds earlier results, not sketches.
      found = [f for f in images.list_images(p)
               if not pathlib.Path(f).resolve().is_relative_to(out_resolved)
               or out_resolved == p.resolve()]
      if not found:
        raise UserError(f"{p}: no images in folder")
      for f in found:
        rel = pathlib.Path(f).relative_to(p)
        items.append((f, out_dir / rel.parent / rel.stem))
    elif p.exists():
      items.append((str(p), out_dir / p.stem))
    else:
      missing.append(str(p))
  return items, missing


def _output_paths(stem, variations):
  base = f"{stem.name}{OUTPUT_SUFFIX}"
  if variations == 1:
    return [stem.with_name(base + ".png")]
  return [stem.with_name(f"{base}_v{i}.png") for i in range(variations)]


def _check_outputs(jobs, inputs):
  """Refuses outputs that are input files or that two inputs share (one-line UserError)."""
  resolved_inputs = {pathlib.Path(p).resolve(): p for p in inputs}
  seen = {}
  for src, outs in jobs:
    for out in outs:
      r = out.resolve()
      if r in resolved_inputs:
        raise UserError(f"output {out} would overwrite input {resolved_inputs[r]}: "
                        "choose another --out folder")
      if r in seen:
        raise UserError(f"{seen[r]} and {src} would both be written to {out}: "
                        "rename one or colorize them separately")
      seen[r] = src


def _progress(items, enabled):
  if not enabled:
    return items, lambda msg: print(msg, file=sys.stderr)
  from tqdm import tqdm  # Deferred: only batches show a bar.

  bar = tqdm(items, unit="img", file=sys.stderr, dynamic_ncols=True)
  return bar, lambda msg: tqdm.write(msg, file=sys.stderr)


def run_colorize(args, colorizer=None):
  """Runs `jaxcolor colorize`; returns 0, or 1 when some inputs were skipped.

  `colorizer` replaces loading args.checkpoint (a model already in memory).
  """
  points_arg = getattr(args, "points", None)
  if args.reference is None and args.palette is None and points_arg is None:
    raise UserError("give --reference IMAGE, --palette HEX or --points RGBA_IMAGE")
  check_hint_source(args.reference, args.palette, points=points_arg)
  if args.variations < 1:
    raise UserError(f"--variations must be >= 1, got {args.variations}")
  if args.size is not None and args.size < 1:
    raise UserError(f"--size must be >= 1, got {args.size}")
  checkpoint_choice(args)  # conflicting flags fail before anything loads
  out_dir = pathlib.Path(args.out)
  items, missing = _collect_inputs(args.sketches, out_dir)
  if not items and not missing:
    raise UserError("no sketches given")
  jobs = [(src, _output_paths(stem, args.variations)) for src, stem in items]
  _check_outputs(jobs, [src for src, _ in items] + ([args.reference] if args.reference else []))
  # Read the cheap inputs before the slow checkpoint load, so that typos fail fast.
  reference = images.load_rgb(args.reference) if args.reference is not None else None
  if args.palette is not None:
    hints.palette_from_text(args.palette)
  points_alone = reference is None and args.palette is None
  points, points_failed = _read_points(points_arg, points_alone)
  layers_to, layers_failed = _layers_folder(args)

  if colorizer is None:
    colorizer = Colorizer.from_args(args)
  if args.variations > 1 and not colorizer.has_noise:
    raise UserError(f"this {colorizer.config.model.family} model has no noise injection: "
                    "--variations would write the same image")
  if points is not None and not colorizer.takes_points:
    raise UserError("this model takes no colour points: leave --points out, or train one "
                    "with --config.model.points=True")
  colors = colorizer.hint_colors(reference=reference, palette=args.palette, points=points)
  seeds = ((args.seed,) if args.variations == 1 else
           tuple(range(args.seed or 0, (args.seed or 0) + args.variations)))
  protect = [src for src, _ in items]
  skipped = [(p, "no such file or folder") for p in missing]
  bar, report = _progress(jobs, len(items) > 1)
  for p, reason in skipped:
    report(f"skipped {p}: {reason}")
  written = 0
  for src, outs in bar:
    try:
      sketch = load_sketch(src, cleanup=args.cleanup)
      if points is not None and points.shape[:2] != sketch.shape:
        report(f"{points_arg}: {points.shape[1]}x{points.shape[0]} resized (nearest) to "
               f"{src}'s {sketch.shape[1]}x{sketch.shape[0]}")
      results = colorizer.colorize_sketch(sketch, colors, seeds, args.size, points,
                                          points_alone=points_alone)
      results, layers = _paint_results(args, sketch, results, points, report, src,
                                       with_layers=not layers_failed)
      for img, out in zip(results, outs):
        images.save_image(img, out, protect=protect)
      written += len(outs)
      if layers:
        layers_failed = _write_layers(layers, outs, out_dir, layers_to, report)
    except ParamsMismatch:
      raise
    except UserError as e:
      reason = e.reason if isinstance(e, ImageError) else str(e)
      skipped.append((src, reason))
      report(f"skipped {src}: {reason}")
  print(f"wrote {written} image(s) to {out_dir}"
        + (f"; skipped {len(skipped)} input(s)" if skipped else ""))
  if points_failed or layers_failed:
    return 2
  return 1 if skipped else 0


def _layers_folder(args):
  """(--layers-dir as a folder or None, whether it cannot be written).

  An unwritable folder is one `error:` line at once; the PNGs are still written and the
  command then exits 2.
  """
  folder = getattr(args, "layers_dir", None)
  if folder is None:
    return None, False
  folder = pathlib.Path(folder)
  try:
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK | os.X_OK):
      raise PermissionError(13, "Permission denied")
  except OSError as e:
    print(f"error: --layers-dir {folder}: cannot write there ({e.strerror or e}); "
          "writing the PNGs only", file=sys.stderr)
    return folder, True
  return folder, False


def _paint_results(args, sketch, results, points, report, src, with_layers=True):
  """--flat / --layers for one sketch: (images to write, [Layers per image] or None).

  A sketch without closed regions keeps its plain results, with one warning line.
  """
  flat = getattr(args, "flat", False)
  want_layers = bool(getattr(args, "layers", False) or getattr(args, "layers_dir", None))
  if not (flat or want_layers):
    return results, None
  regions = regions_lib.segment(sketch)
  if not regions.usable:
    report(f"warning: {src}: no flat colours or layers, {regions.problem}; "
           "wrote the plain result")
    return results, None
  layers = None
  if want_layers and with_layers:
    layers = [paint_layers(sketch, regions, img, points) for img in results]
  if flat:
    results, _ = flatten_results(sketch, results, points, regions)
  return results, layers


def _write_layers(layers, outs, out_dir, folder, report):
  """Writes NAME.psd and NAME_layers/ beside each PNG (or under `folder`).

  Returns whether that failed, which is reported as one `error:` line.
  """
  for lay, out in zip(layers, outs):
    base = out if folder is None else folder / out.relative_to(out_dir)
    try:
      base.parent.mkdir(parents=True, exist_ok=True)
      lay.save_pngs(base.with_name(base.stem + "_layers"))
      lay.save_psd(base.with_suffix(".psd"))
    except OSError as e:
      report(f"error: cannot write the layers of {out.name} to {base.parent}: "
             f"{e.strerror or e}; the PNGs are still written")
      return True
    except UserError as e:  # psd-tools missing
      report(f"error: {e}; the PNGs are still written")
      return True
  return False


def _read_points(path, only_source):
  """(RGBA points or None, whether the file was unreadable) for `colorize --points`.

  An unreadable file is reported on one line and the sketches are still coloured
  without points (the command then exits 2); so is an image with no opaque pixel.
  """
  if path is None:
    return None, False
  try:
    points = load_points(path)
  except UserError as e:
    if only_source:
      raise  # nothing else to colour with
    print(f"error: {e}; colouring without points", file=sys.stderr)
    return None, True
  if not np.any(points[..., 3] >= 128):
    if only_source:
      raise UserError(f"{path}: no opaque pixel, so no colour point and no palette: "
                      "give --reference or --palette too")
    print(f"warning: {path}: no opaque pixel; colouring without points", file=sys.stderr)
    return None, False
  return points, False


# --------------------------------------------------------------------------- palette CLI


def run_palette(args):
  """Runs `jaxcolor palette`: prints the hex colours and writes a swatch image."""
  if args.kind == "histogram" and (args.k is not None or args.lab):
    raise UserError("--k and --lab apply to --kind palette only")
  ref = images.load_rgb(args.image)
  if args.kind == "palette":
    colors = hints.palette_colors(ref, k=9 if args.k is None else args.k,
                                  color_space="lab" if args.lab else "rgb")
    lines = [",".join(hints.to_hex(colors))]
  else:
    colors = hints.histogram_colors(ref)
    lines = [",".join(hints.to_hex(strip)) for strip in colors]
  images.save_image(hints.swatch_image(args.kind, colors), args.out, protect=[args.image])
  for line in lines:
    print(line)
  return 0
