"""Package names imported from their module on first use (PEP 562).

The code location (`mlops_assets.definitions`) is loaded by the webserver, the daemon and every
run, and needs a few light names of a package only (a schema type, an error class); the
package's other modules import pandas, numpy or pyarrow, 0.4 s more at every load
(bench/bench_load.py). Such a package imports its names in an `if TYPE_CHECKING:` block, the one
list of them (what the type checker reads), and hands its `__file__` to `lazy_exports`, which
reads that block to know which module defines each name and imports it when the name is first
asked for.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path


def lazy_exports(package: str, init_file: str) -> tuple[list[str], Callable[[str], object]]:
    """`__all__` of `package` and the body of its module `__getattr__`: each name imported in
    the `if TYPE_CHECKING:` block of `init_file` (`from package.module import name as name`)
    loaded from its module."""
    home: dict[str, str] = {}
    for node in ast.parse(Path(init_file).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for imported in node.body:
                if isinstance(imported, ast.ImportFrom) and imported.module:
                    home.update({alias.name: imported.module for alias in imported.names})

    def load(name: str) -> object:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return sorted(home), load
