"""The import walker the import-rule tests share: which names a file imports (at module level
or anywhere), chains of module-level imports that reach a forbidden package, importers of a
package. Read from the source with ast, never by importing it."""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from pathlib import Path

PROJECT_PACKAGES = ("core", "ui")
TENSORFLOW = ("tensorflow", "keras")


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


def app_entries(root: Path) -> list[Path]:
    return [
        root / "streamlit_app.py",
        *sorted((root / "app_pages").glob("*.py")),
        *sorted((root / "ui").glob("*.py")),
    ]


def describe(chains: list[list[str]]) -> str:
    return "\n".join(" -> ".join(chain) for chain in chains)
