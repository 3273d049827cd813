"""The module layers of docs/ARCHITECTURE.md hold: imports only point down."""

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "jaxcolor"
SUBPACKAGES = ("jaxcolor", "jaxcolor.data", "jaxcolor.models", "jaxcolor.paint")


def _module_name(path):
  parts = path.relative_to(ROOT).with_suffix("").parts
  name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
  return name


def _imports(path):
  """Every jaxcolor module `path` imports, at the top or inside functions."""
  out = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jaxcolor"):
      if node.module in SUBPACKAGES:  # `from jaxcolor import x`: x may be a module
        for alias in node.names:
          out.add(f"{node.module}.{alias.name}")
      else:
        out.add(node.module)
    elif isinstance(node, ast.Import):
      out.update(a.name for a in node.names if a.name.startswith("jaxcolor"))
  return out


def _modules():
  return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _layers():
  text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
  layers = {}
  for number, names in re.findall(r"^layer (\d+)\s+(.+)$", text, re.M):
    for name in names.split():
      full = "jaxcolor" if name == "jaxcolor" else f"jaxcolor.{name}"
      assert full not in layers, f"{name} is listed twice"
      layers[full] = int(number)
  return layers


def test_every_module_has_one_layer():
  assert set(_layers()) == set(_modules())


def test_imports_only_point_to_lower_layers():
  layers, modules = _layers(), _modules()
  wrong = []
  for name, path in modules.items():
    for target in _imports(path):
      if target not in modules:  # `from jaxcolor import Colorizer` names a class
        continue
      if target != name and layers[target] >= layers[name]:
        wrong.append(f"{name} (layer {layers[name]}) imports {target} (layer {layers[target]})")
  assert not wrong, "\n".join(wrong)


def _private_jax_and_sys_path(path):
  found = []
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jax._src"):
      found.append(node.module)
    elif isinstance(node, ast.Import):
      found += [a.name for a in node.names if a.name.startswith("jax._src")]
    elif (isinstance(node, ast.Attribute) and node.attr in ("insert", "append") and
          isinstance(node.value, ast.Attribute) and node.value.attr == "path" and
          isinstance(node.value.value, ast.Name) and node.value.value.id == "sys"):
      found.append(f"sys.path.{node.attr}")
  return found


def test_no_private_jax_and_no_sys_path_changes():
  paths = [*PACKAGE.rglob("*.py"), *(ROOT / "configs").glob("*.py"), *(ROOT / "tests").glob("*.py")]
  found = {str(p.relative_to(ROOT)): f for p in paths if (f := _private_jax_and_sys_path(p))}
  assert not found
  assert not (ROOT / "configs" / "__init__.py").exists()  # configs load from their path
