"""The app's import rules, checked on the source (ast), not by convention:

- the Streamlit process (streamlit_app.py, app_pages/, ui/) reaches no tensorflow or keras through
  module-level imports, followed transitively through the project's own modules (core.*, ui.*).
  Function-local imports and `if TYPE_CHECKING:` blocks do not run at import, so they are not
  followed; the Predict page gets TensorFlow only through ui/model_loader.py, on demand;
- no core/ module imports streamlit, anywhere (core is the library the CLI and worker share);
- Ray is imported only when the ray engine is chosen: neither the app nor the local worker nor
  the CLI reaches it at import; core/ray_engine.py is the one module that imports it, and only
  the worker's Ray branch imports that module.

The walker is tested on a tiny synthetic package first, so a planted violation is known to fail.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("core", "ui")
TENSORFLOW = ("tensorflow", "keras")


# -- the walker -------------------------------------------------------------------------------
def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_nodes(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run when the module is imported: not function bodies (they run when
    called), not `if TYPE_CHECKING:` (never true at run time); class bodies and if/try/with do."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        yield node
        if isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _import_time_nodes(node.body)
            yield from _import_time_nodes(node.orelse)
        elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            for part in (node.body, node.orelse, node.finalbody):
                yield from _import_time_nodes(part)
            for handler in node.handlers:
                yield from _import_time_nodes(handler.body)
        elif isinstance(node, (ast.With, ast.AsyncWith, ast.ClassDef, ast.For, ast.While)):
            yield from _import_time_nodes(node.body)


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def imported_names(path: Path, module: str = "", everywhere: bool = False) -> list[str]:
    """Dotted names a file imports (at module level, or everywhere); `from a import b` gives
    both a and a.b (b may be a submodule), relative imports are resolved against `module`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = ast.walk(tree) if everywhere else _import_time_nodes(tree.body)
    names = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(module, path).split(".")
                parent = ".".join(package[: len(package) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _project_file(root: Path, name: str, packages: tuple[str, ...]) -> Path | None:
    if name.split(".")[0] not in packages:
        return None
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None  # `from core import CONSTANT`: a name, not a module


def _with_parents(name: str) -> list[str]:
    """Importing a.b.c runs a, then a.b, then a.b.c."""
    parts = name.split(".")
    return [".".join(parts[: k + 1]) for k in range(len(parts))]


def forbidden_chains(
    root: Path,
    entries: list[Path],
    forbidden: tuple[str, ...] = TENSORFLOW,
    packages: tuple[str, ...] = PROJECT_PACKAGES,
) -> list[list[str]]:
    """Every shortest import chain from an entry file to a forbidden top-level package, through
    module-level imports of the project's modules. Empty: the rule holds."""
    chains = []
    for entry in entries:
        start = entry.relative_to(root).as_posix()
        parent: dict[str, str | None] = {start: None}
        files = {start: entry}
        queue = deque([start])
        while queue:
            current = queue.popleft()
            module = "" if current.endswith(".py") else current
            for name in imported_names(files[current], module):
                top = name.split(".")[0]
                if top in forbidden:
                    if top not in parent:  # the first (shortest) chain to it is enough
                        parent[top] = current
                        chain = [top]
                        while (link := parent[chain[-1]]) is not None:
                            chain.append(link)
                        chains.append(chain[::-1])
                    continue
                for step in _with_parents(name):
                    if step in parent:
                        continue
                    path = _project_file(root, step, packages)
                    if path is not None:
                        parent[step], files[step] = current, path
                        queue.append(step)
    return chains


def importers_of(root: Path, package: str, target: str) -> list[str]:
    """Files under root/package that import `target` anywhere (also inside functions)."""
    return sorted(
        path.relative_to(root).as_posix()
        for path in (root / package).rglob("*.py")
        if any(name.split(".")[0] == target for name in imported_names(path, everywhere=True))
    )


def _app_entries(root: Path) -> list[Path]:
    return [
        root / "streamlit_app.py",
        *sorted((root / "app_pages").glob("*.py")),
        *sorted((root / "ui").glob("*.py")),
    ]


def _describe(chains: list[list[str]]) -> str:
    return "\n".join(" -> ".join(chain) for chain in chains)


# -- the walker on a planted violation ----------------------------------------------------------
def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_walker_finds_a_planted_chain_and_ignores_deferred_imports(tmp_path):
    _write(
        tmp_path,
        {
            "app.py": "from core import a\nimport ui.helpers\n",
            "core/__init__.py": "",
            "core/a.py": "from . import b\nX = 1\n",
            "core/b.py": "import numpy\nfrom keras import layers\n",
            "ui/__init__.py": "",
            "ui/helpers.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    import tensorflow\n"
                "def later():\n    import tensorflow\n"
                "try:\n    import json\nexcept ImportError:\n    json = None\n"
            ),
            "clean.py": "from core import A_CONSTANT\nimport ui.helpers\n",
        },
    )
    chains = forbidden_chains(tmp_path, [tmp_path / "app.py", tmp_path / "clean.py"])
    assert chains == [["app.py", "core.a", "core.b", "keras"]]
    assert _describe(chains) == "app.py -> core.a -> core.b -> keras"


def test_walker_follows_class_bodies_and_else_branches(tmp_path):
    _write(
        tmp_path,
        {
            "page.py": "import ui.x\n",
            "ui/__init__.py": "",
            "ui/x.py": "import sys\nif sys.maxsize < 0:\n    pass\nelse:\n    import ui.y\n",
            "ui/y.py": "class Model:\n    import tensorflow as tf\n",
        },
    )
    assert forbidden_chains(tmp_path, [tmp_path / "page.py"]) == [
        ["page.py", "ui.x", "ui.y", "tensorflow"]
    ]


def test_streamlit_finder_sees_function_local_imports(tmp_path):
    _write(
        tmp_path,
        {
            "core/__init__.py": "",
            "core/ok.py": "import numpy\n",
            "core/bad.py": "def show():\n    from streamlit import write\n",
        },
    )
    assert importers_of(tmp_path, "core", "streamlit") == ["core/bad.py"]


# -- the rules on the real code ---------------------------------------------------------------
def test_app_process_reaches_no_tensorflow_at_import():
    entries = _app_entries(ROOT)
    assert len(entries) > 5  # streamlit_app.py, the pages and ui/ were found
    chains = forbidden_chains(ROOT, entries)
    assert not chains, "TensorFlow/Keras imported at module level by the app:\n" + _describe(chains)


def test_core_never_imports_streamlit():
    assert importers_of(ROOT, "core", "streamlit") == []


RAY = ("ray",)
LOCAL_SIDE = (
    "core/worker.py",
    "core/cli.py",
    "core/runs.py",
    "core/engines.py",
    "core/__main__.py",
)


def test_ray_is_imported_only_by_the_ray_engine():
    entries = [*_app_entries(ROOT), *(ROOT / name for name in LOCAL_SIDE)]
    chains = forbidden_chains(ROOT, entries, forbidden=RAY)
    assert not chains, "Ray imported at module level outside the Ray engine:\n" + _describe(chains)
    assert importers_of(ROOT, "core", "ray") == ["core/ray_engine.py"]
    assert importers_of(ROOT, "ui", "ray") == importers_of(ROOT, "app_pages", "ray") == []


def test_the_ray_rule_would_see_a_planted_import(tmp_path):
    _write(
        tmp_path,
        {
            "core/__init__.py": "",
            "core/worker.py": "from core import engines\n",
            "core/engines.py": "import ray.util\n",
        },
    )
    chains = forbidden_chains(tmp_path, [tmp_path / "core/worker.py"], forbidden=RAY)
    assert chains == [["core/worker.py", "core.engines", "ray"]]
