"""The folder tree of core/ is the architecture: sub-packages by concern, in layers. A module
may import its own package and the packages below it, never one above (module-level imports
and those inside functions alike: a function-local import is still a dependency).

    cli      `python -m core ...`, the benchmark, README's command block
    jobs     starting runs (the rules), the worker process, engines (local, Ray), child jobs
    export   a finished run taken away: export formats, bundle, reproduce, predict
    reports  words, tables, charts and HTML pages about runs and comparisons
    train    executing one run: context, extraction and feature caches, phases, fits
    runs     RunConfig, the strategy table, the advisor, typed results, the store, budgets
    data     image and audio files, datasets, splits, overlays, archives, samples
    model    facts about VGG16, weights, backbone, heads, precision and devices
    platform settings, file I/O, host facts

The checker is tried on a planted violation first, so a broken rule is known to fail.
"""

from __future__ import annotations

from pathlib import Path

from importgraph import imported_names

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("platform", "model", "data", "runs", "train", "reports", "export", "jobs", "cli")


def _layer(module: str) -> str | None:
    """The layer of a dotted core module name (None: core's own __init__ / __main__)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "core" and parts[1] in LAYERS else None


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def upward_imports(root: Path) -> list[str]:
    """'core.a.x -> core.b.y' for every import of a higher layer, anywhere in a module."""
    out = []
    for path in sorted((root / "core").rglob("*.py")):
        module = _module_name(path, root)
        own = _layer(module)
        if own is None:
            continue
        for name in imported_names(path, module, everywhere=True):
            other = _layer(name)
            if other is not None and LAYERS.index(other) > LAYERS.index(own):
                out.append(f"{module} -> {name}")
    return sorted(set(out))


def test_every_core_module_lives_in_a_layer():
    loose = [
        p.name for p in (ROOT / "core").glob("*.py") if p.name not in ("__init__.py", "__main__.py")
    ]
    assert loose == [], f"core/ modules outside a package: {loose}"
    packages = sorted(p.name for p in (ROOT / "core").iterdir() if (p / "__init__.py").exists())
    assert packages == sorted(LAYERS)


def test_no_layer_imports_a_higher_one():
    assert upward_imports(ROOT) == []


def test_the_layer_rule_would_see_a_planted_upward_import(tmp_path):
    for name, text in {
        "core/__init__.py": "",
        "core/model/__init__.py": "",
        "core/model/vgg16.py": "def late():\n    from core.runs import config\n",
        "core/runs/__init__.py": "",
        "core/runs/config.py": "from core.model import vgg16\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    # `from core.runs import config` names both the package and the module
    assert upward_imports(tmp_path) == [
        "core.model.vgg16 -> core.runs",
        "core.model.vgg16 -> core.runs.config",
    ]
