"""Configs as code: load `configs/x.py[:arg]` and apply `--config.a.b=value` overrides."""

import ast
import importlib.util
import json
import os

import ml_collections

from jaxcolor.errors import UserError


def load_config(spec: str) -> ml_collections.ConfigDict:
  """Loads `path/to/config.py` or `path/to/config.py:arg` (arg passed to get_config)."""
  path, _, arg = spec.partition(":")
  module = load_module(path)
  if not hasattr(module, "get_config"):
    raise UserError(f"{path}: has no get_config()")
  try:
    config = module.get_config(arg) if arg else module.get_config()
  except (TypeError, ValueError) as e:
    raise UserError(f"{spec}: {e}") from e
  return config


def load_module(path: str):
  """A config file as a module, loaded from its path (as ml_collections' config_flags do).

  Nothing is added to sys.path and `configs/` is no package: a config that
  builds on another loads it with `sibling`.
  """
  path = os.path.abspath(os.path.expanduser(path))
  if not os.path.isfile(path):
    raise UserError(f"config file not found: {path}")
  name = "jaxcolor_config_" + os.path.splitext(os.path.basename(path))[0]
  module_spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(module_spec)
  try:
    module_spec.loader.exec_module(module)
  except UserError:
    raise
  except Exception as e:  # a broken config file is the user's to fix: say which and why
    raise UserError(f"{path}: could not load: {type(e).__name__}: {e}") from e
  return module


def sibling(config_file: str, name: str):
  """From inside a config file: the config `name`.py of the same folder, as a module."""
  return load_module(os.path.join(os.path.dirname(os.path.abspath(config_file)), name + ".py"))


def _valid_names(config, prefix=""):
  names = []
  for k, v in config.items():
    full = f"{prefix}{k}"
    if isinstance(v, ml_collections.ConfigDict) and len(v):
      names.extend(_valid_names(v, full + "."))
    else:
      names.append(full)
  return names


def _parse_value(text: str, current):
  if isinstance(current, bool):
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
      return True
    if low in ("0", "false", "no", "off"):
      return False
    raise ValueError(f"expected a boolean, got {text!r}")
  try:
    value = ast.literal_eval(text)
  except (ValueError, SyntaxError):
    value = text
  if isinstance(current, float) and isinstance(value, int):
    value = float(value)
  if isinstance(current, tuple) and isinstance(value, (list, int, float, str)):
    value = tuple(value) if isinstance(value, list) else (value,)
  if isinstance(current, str) and not isinstance(value, str):
    value = text
  if current is not None and value is not None and isinstance(current, (int, float, str, tuple)):
    if isinstance(current, (int, float)) and not isinstance(value, (int, float)):
      raise ValueError(f"expected a number, got {text!r}")
  return value


def apply_overrides(config: ml_collections.ConfigDict, overrides) -> ml_collections.ConfigDict:
  """Applies `a.b=value` strings; an unknown field fails with the list of valid names."""
  for item in overrides:
    key, sep, text = item.partition("=")
    if not sep:
      raise UserError(f"override {item!r} must look like --config.field=value")
    parts = key.split(".")
    node = config
    for p in parts[:-1]:
      if not isinstance(node, ml_collections.ConfigDict) or p not in node:
        raise UserError(_unknown(config, key))
      node = node[p]
    leaf = parts[-1]
    # `*_kwargs` fields are open keyword dicts (e.g. data.builder_kwargs.folder).
    open_dict = len(parts) > 1 and parts[-2].endswith("kwargs")
    if not isinstance(node, ml_collections.ConfigDict) or (leaf not in node and not open_dict):
      raise UserError(_unknown(config, key))
    try:
      value = _parse_value(text, node.get(leaf))
      with node.ignore_type():
        node[leaf] = value
    except (ValueError, TypeError) as e:
      raise UserError(f"--config.{key}: {e}") from e
  return config


def _unknown(config, key):
  return f"unknown config field {key!r}; valid fields: {', '.join(sorted(_valid_names(config)))}"


def split_overrides(argv):
  """Separates `--config.x=v` / `--config.x v` items from the other arguments."""
  rest, overrides = [], []
  i = 0
  while i < len(argv):
    a = argv[i]
    if a.startswith("--config."):
      body = a[len("--config."):]
      if "=" not in body:
        if i + 1 >= len(argv):
          raise UserError(f"{a} needs a value")
        body = f"{body}={argv[i + 1]}"
        i += 1
      overrides.append(body)
    else:
      rest.append(a)
    i += 1
  return rest, overrides


def to_json(config) -> str:
  return config.to_json_best_effort(indent=2, sort_keys=True)


def from_json(text: str) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(_tuples(json.loads(text)))


def _tuples(d):
  """JSON has no tuples; configs use them for widths and layer lists."""
  if isinstance(d, dict):
    return {k: _tuples(v) for k, v in d.items()}
  if isinstance(d, list):
    return tuple(_tuples(v) for v in d)
  return d
