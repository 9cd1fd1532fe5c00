"""Fixing a dataset without touching its files: what the Data page calls to relabel or exclude a
picture (found among a run's most-wrong images or the near-duplicates), to undo one edit or all,
and to scan the dataset with its edits applied. The edits themselves are core.data.overlay's.
"""

from __future__ import annotations

from pathlib import Path

from core.data import audio, overlay
from core.data.datasets import Item, Scan
from core.data.overlay import Edit, EditError


def scan(home: Path, folder: str | Path) -> Scan:
    """The dataset as the next run sees it: its folders, with the overlay's edits applied."""
    return audio.scan_dataset(folder, edits=overlay.load(home, folder))


def _item(found: Scan, rel: str) -> Item:
    for item in [*found.items, *found.excluded]:
        if item.rel == rel:
            return item
    raise EditError(f"{rel} is not in this dataset any more: scan it again")


def _folder_label(found: Scan, item: Item) -> str:
    """The class the file's folder gives it (before any edit)."""
    in_force = overlay.effective(found.edits).get(item.rel)
    return in_force.from_label if in_force is not None else item.label


def relabel(home: Path, found: Scan, rel: str, to_label: str) -> Edit:
    """Move `rel` to the class `to_label` (one of the dataset's classes)."""
    if to_label not in found.classes:
        raise EditError(f"there is no class {to_label!r}: choose one of {', '.join(found.classes)}")
    item = _item(found, rel)
    if item.label == to_label and item in found.items:
        raise EditError(f"{rel} is already in {to_label}: choose another class")
    return overlay.relabel(home, found.root, rel, _folder_label(found, item), to_label, item.sha256)


def exclude(home: Path, found: Scan, rel: str) -> Edit:
    """Leave `rel` out of the dataset (its file stays where it is)."""
    item = _item(found, rel)
    if item in found.excluded:
        raise EditError(f"{rel} is excluded already")
    return overlay.exclude(home, found.root, rel, _folder_label(found, item), item.sha256)


def undo(home: Path, folder: str | Path, edit_id: str) -> tuple[Edit, ...]:
    return overlay.undo(home, folder, edit_id)


def undo_all(home: Path, folder: str | Path) -> int:
    return overlay.undo_all(home, folder)


def edits(home: Path, folder: str | Path) -> tuple[Edit, ...]:
    return overlay.load(home, folder)


def rel_of(found: Scan, path: str | Path) -> str | None:
    """A file's name relative to the dataset folder (None: not inside it)."""
    base = Path(found.root).expanduser().resolve()
    target = Path(path).expanduser().resolve()
    return target.relative_to(base).as_posix() if base in target.parents else None
