"""The workspace: the dataset, run settings and last results the app shows, kept per studio home
so that a browser reload or a second tab comes back to them (a Streamlit session lives in one
tab only). One small JSON file, written atomically; a damaged file is ignored (and logged),
never an error: the app then starts empty, as it did before there was a workspace.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.platform import settings
from core.platform.fileio import atomic_write_text
from core.runs.config import RunConfig

log = logging.getLogger("studio.workspace")
FILE_NAME = "workspace.json"

# RunConfig fields that are not the user's settings: the dataset is kept on its own, the
# others are filled in per run.
_NOT_SETTINGS = {"dataset", "val_dir", "manifest", "edits", "label", "audio", "task"}
SETTINGS: tuple[str, ...] = tuple(
    f.name
    for f in dataclasses.fields(RunConfig)
    if f.name not in _NOT_SETTINGS
    and isinstance(RunConfig.default(f.name), bool | int | float | str)
)


@dataclass(frozen=True)
class Workspace:
    dataset: str | None = None  # the folder runs train on
    dataset_label: str = ""  # how it was chosen, in words
    audio_source: str | None = None  # the sound folder a spectrogram dataset came from
    settings: dict[str, Any] = field(default_factory=dict)  # RunConfig field -> value
    train_run: str | None = None  # the run the Train page showed last
    compare_group: str | None = None  # the comparison the Compare page showed last
    # the measurement whose advice already set the strategy: after a reload it must not set
    # it again over the person's own choice (seen: fine-tune chosen, "linear" came back)
    applied_advice: str | None = None
    # chosen values that are not RunConfig fields (per-phase optimizers and learning rates,
    # keyed by their widget's session key): text, numbers or booleans only
    choices: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: object) -> Workspace:
        """A workspace from its JSON form; wrong types raise ValueError, settings that are not
        (or no longer) RunConfig settings, or of the wrong type, are dropped."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        names = ("dataset", "audio_source", "train_run", "compare_group", "applied_advice")
        text = {name: data.get(name) for name in names}
        for name, value in text.items():
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} is not text")
        label = data.get("dataset_label") or ""
        if not isinstance(label, str):
            raise ValueError("dataset_label is not text")
        chosen = data.get("settings") or {}
        if not isinstance(chosen, dict):
            raise ValueError("settings is not a JSON object")
        choices = data.get("choices") or {}
        if not isinstance(choices, dict):
            raise ValueError("choices is not a JSON object")
        return cls(
            dataset_label=label, settings=valid_settings(chosen), choices=plain(choices), **text
        )


def plain(choices: dict[str, Any]) -> dict[str, Any]:
    """The entries with a text key and a text, number or boolean value (others dropped)."""
    return {
        name: value
        for name, value in choices.items()
        if isinstance(name, str) and isinstance(value, bool | int | float | str)
    }


def valid_settings(chosen: dict[str, Any]) -> dict[str, Any]:
    """The entries that are RunConfig settings with a value of their default's type."""
    kept = {}
    for name, value in chosen.items():
        if name not in SETTINGS:
            continue
        default = RunConfig.default(name)
        same_type = type(value) is type(default) or (
            isinstance(default, float) and type(value) is int
        )
        if same_type:
            kept[name] = value
        else:
            log.warning("workspace setting %s=%r ignored: not a %s", name, value, type(default))
    return kept


def path(home: str | os.PathLike[str] | None = None) -> Path:
    return settings.studio_home(home) / FILE_NAME


def load(home: str | os.PathLike[str] | None = None) -> Workspace | None:
    """The saved workspace of this studio home; None when there is none or it cannot be read
    (logged: the app then starts empty rather than failing)."""
    file = path(home)
    if not file.is_file():
        return None
    try:
        return Workspace.from_json(json.loads(file.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        log.warning("workspace file %s ignored: %s", file, exc)
        return None


def save(workspace: Workspace, home: str | os.PathLike[str] | None = None) -> None:
    """Write the workspace (temporary file + rename: a reader never sees half a file)."""
    atomic_write_text(path(home), json.dumps(workspace.to_json(), indent=1, sort_keys=True))
