"""Edits to a dataset that leave the person's files alone: relabel a picture (move it to another
class) or exclude it, stored as an overlay (a list of edits) in the studio home, per dataset.

The scan applies the overlay (core.data.datasets.scan's `edits`), so the Data page's report, the
next split and the next run all see the edited dataset; a run's manifest records the edits it
trained with. Every edit can be undone on its own, or all at once. Edits name a file by its
manifest key (`rel`, relative to the dataset folder); for one file the latest edit wins, so
undoing it brings back the one before.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.platform.fileio import atomic_write_text
from core.platform.refusal import Refusal

RELABEL, EXCLUDE = "relabel", "exclude"
KINDS = (RELABEL, EXCLUDE)
OVERLAY_DIR = "overlays"  # below the studio home: one JSON file per dataset folder


class EditError(Refusal, ValueError):
    """An edit that cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Edit:
    """One change: `rel` (the file, relative to the dataset folder) moves from `from_label` to
    `to_label` (relabel), or leaves the dataset (exclude, `to_label` None)."""

    id: str
    kind: str  # RELABEL | EXCLUDE
    rel: str
    from_label: str  # its class in the folders
    to_label: str | None = None
    sha256: str = ""  # its content when edited (shown; the edit follows the name)
    created: float = 0.0

    def describe(self) -> str:
        if self.kind == EXCLUDE:
            return f"{self.rel}: excluded (was in {self.from_label})"
        return f"{self.rel}: {self.from_label} -> {self.to_label}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Edit:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


def dataset_key(dataset: str | Path) -> str:
    """The overlay's name for a dataset folder: a hash of its resolved path."""
    resolved = str(Path(dataset).expanduser().resolve())
    return hashlib.sha256(resolved.encode()).hexdigest()[:24]


def overlay_path(home: Path, dataset: str | Path) -> Path:
    return Path(home) / OVERLAY_DIR / f"{dataset_key(dataset)}.json"


def load(home: Path, dataset: str | Path) -> tuple[Edit, ...]:
    """The dataset's edits, oldest first (none: no overlay). An unreadable overlay file counts
    as none rather than stopping every scan; it is left in place for a person to look at."""
    path = overlay_path(home, dataset)
    try:
        data = json.loads(path.read_text())
        return tuple(Edit.from_json(e) for e in data.get("edits", []))
    except (OSError, ValueError, TypeError, AttributeError):
        return ()


def _save(home: Path, dataset: str | Path, edits: Sequence[Edit]) -> tuple[Edit, ...]:
    path = overlay_path(home, dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "dataset": str(Path(dataset).expanduser().resolve()),
        "edits": [e.to_json() for e in edits],
    }
    atomic_write_text(path, json.dumps(body, indent=1))
    return tuple(edits)


def _new(kind: str, rel: str, from_label: str, to_label: str | None, sha256: str) -> Edit:
    return Edit(uuid.uuid4().hex[:12], kind, rel, from_label, to_label, sha256, time.time())


def relabel(
    home: Path, dataset: str | Path, rel: str, from_label: str, to_label: str, sha256: str = ""
) -> Edit:
    """Record that `rel` belongs to `to_label` (an existing class, checked by the caller's
    scan through `check_relabel`)."""
    if to_label == from_label:
        raise EditError(f"{rel} is already in {to_label}: choose another class")
    edit = _new(RELABEL, rel, from_label, to_label, sha256)
    _save(home, dataset, [*load(home, dataset), edit])
    return edit


def exclude(home: Path, dataset: str | Path, rel: str, from_label: str, sha256: str = "") -> Edit:
    """Record that `rel` is left out of training, validation and test."""
    edit = _new(EXCLUDE, rel, from_label, None, sha256)
    _save(home, dataset, [*load(home, dataset), edit])
    return edit


def undo(home: Path, dataset: str | Path, edit_id: str) -> tuple[Edit, ...]:
    """Remove one edit (the file goes back to what the edits before it made of it)."""
    edits = load(home, dataset)
    if not any(e.id == edit_id for e in edits):
        raise EditError("that edit is not in this dataset's list any more (undone already?)")
    return _save(home, dataset, [e for e in edits if e.id != edit_id])


def undo_all(home: Path, dataset: str | Path) -> int:
    """Remove every edit of the dataset; returns how many there were."""
    count = len(load(home, dataset))
    overlay_path(home, dataset).unlink(missing_ok=True)
    return count


def effective(edits: Iterable[Edit]) -> dict[str, Edit]:
    """rel -> the edit in force for it (the latest)."""
    out: dict[str, Edit] = {}
    for edit in edits:
        out[edit.rel] = edit
    return out


def fingerprint(edits: Iterable[Edit]) -> str:
    """A short hash of the edits in force: part of every cache key that depends on labels."""
    digest = hashlib.sha256()
    for rel, edit in sorted(effective(edits).items()):
        digest.update(f"{rel}\t{edit.kind}\t{edit.to_label}\n".encode())
    return digest.hexdigest()[:16]


def record(manifest: dict[str, Any], edits: Sequence[Edit]) -> dict[str, Any]:
    """The split manifest with the edits it was drawn under (none: unchanged)."""
    if not edits:
        return manifest
    return {**manifest, "edits": [e.to_json() for e in edits]}


def recorded(manifest: dict[str, Any] | None) -> tuple[Edit, ...]:
    """The edits a saved manifest was drawn under."""
    return tuple(Edit.from_json(e) for e in (manifest or {}).get("edits") or ())


def dumps(edits: Sequence[Edit]) -> str:
    """The edits as one string (a hashable cache key for the app's scan cache)."""
    return json.dumps([e.to_json() for e in edits])


def loads(text: str) -> tuple[Edit, ...]:
    return tuple(Edit.from_json(e) for e in json.loads(text or "[]"))
