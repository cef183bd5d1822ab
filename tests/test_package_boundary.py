"""The platform does not depend on its test double: nothing under ``include/credit``, ``dags`` or
``plugins`` imports the county simulator (``include/county_sim``), neither in its text nor once
every module of it is loaded."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from credit.paths import DAGS_DIR, PACKAGE_DIR, PLUGINS_DIR

SIMULATOR = "county_sim"


def _product_files() -> list[Path]:
    return sorted(
        path for folder in (PACKAGE_DIR, DAGS_DIR, PLUGINS_DIR) for path in folder.rglob("*.py")
    )


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            modules.update(
                arg.value
                for arg in node.args
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            )
    return modules


def test_no_product_module_imports_the_simulator():
    files = _product_files()
    assert len(files) > 40  # the walk found the product
    offending = {
        str(path.relative_to(PACKAGE_DIR.parent.parent)): sorted(
            module
            for module in _imported_modules(path)
            if module == SIMULATOR or module.startswith(f"{SIMULATOR}.")
        )
        for path in files
    }
    assert {path: modules for path, modules in offending.items() if modules} == {}


def test_loading_every_product_module_leaves_the_simulator_unloaded():
    script = f"""
import importlib, pkgutil, sys
import credit
names = [m.name for m in pkgutil.walk_packages(credit.__path__, "credit.")]
for name in names:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m == {SIMULATOR!r} or m.startswith({SIMULATOR!r} + "."))
print(len(names), loaded)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    count, loaded = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(count) > 30  # every module of the package, subpackages included
    assert loaded == "[]"
