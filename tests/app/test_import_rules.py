"""The app's import rules, checked on the source (ast), not by convention:

- the Streamlit process (streamlit_app.py, app_pages/, ui/) reaches no tensorflow or keras through
  module-level imports, followed transitively through the project's own modules (core.*, ui.*).
  Function-local imports and `if TYPE_CHECKING:` blocks do not run at import, so they are not
  followed; the Predict page gets TensorFlow only through ui/model_loader.py, on demand;
- no core/ module imports streamlit, anywhere (core is the library the CLI and worker share);
- Ray is imported only when the ray engine is chosen: neither the app nor the local worker nor
  the CLI reaches it at import; core/jobs/ray_engine.py is the one module that imports it, and only
  the worker's Ray branch imports that module.

The walker is tested on a tiny synthetic package first, so a planted violation is known to fail.
"""

from __future__ import annotations

from pathlib import Path

from importgraph import (
    app_entries,
    describe,
    forbidden_chains,
    importers_of,
)

ROOT = Path(__file__).resolve().parents[2]


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
    assert describe(chains) == "app.py -> core.a -> core.b -> keras"


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
    entries = app_entries(ROOT)
    assert len(entries) > 5  # streamlit_app.py, the pages and ui/ were found
    chains = forbidden_chains(ROOT, entries)
    assert not chains, "TensorFlow/Keras imported at module level by the app:\n" + describe(chains)


def test_core_never_imports_streamlit():
    assert importers_of(ROOT, "core", "streamlit") == []


RAY = ("ray",)
LOCAL_SIDE = (
    "core/jobs/worker.py",
    "core/cli/__init__.py",
    "core/jobs/runs.py",
    "core/jobs/engines.py",
    "core/__main__.py",
)


def test_ray_is_imported_only_by_the_ray_engine():
    entries = [*app_entries(ROOT), *(ROOT / name for name in LOCAL_SIDE)]
    chains = forbidden_chains(ROOT, entries, forbidden=RAY)
    assert not chains, "Ray imported at module level outside the Ray engine:\n" + describe(chains)
    assert importers_of(ROOT, "core", "ray") == ["core/jobs/ray_engine.py"]
    assert importers_of(ROOT, "ui", "ray") == importers_of(ROOT, "app_pages", "ray") == []


def test_the_ray_rule_would_see_a_planted_import(tmp_path):
    _write(
        tmp_path,
        {
            "core/__init__.py": "",
            "core/jobs/__init__.py": "",
            "core/jobs/worker.py": "from core.jobs import engines\n",
            "core/jobs/engines.py": "import ray.util\n",
        },
    )
    chains = forbidden_chains(tmp_path, [tmp_path / "core/jobs/worker.py"], forbidden=RAY)
    assert chains == [["core/jobs/worker.py", "core.jobs.engines", "ray"]]
