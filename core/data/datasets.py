"""Image-folder datasets: scan, check and split.

A dataset is a folder with one subfolder per class, or `train/` plus `validation/` (or `val/`)
and/or `test/`, each holding class subfolders; a separate validation folder may also be given.
Three sides: train (fitted on), validation (early stopping, learning-rate schedule, checkpoint
choice) and test (scored once, after training: the reported accuracy). A side the layout does
not give is drawn from the training images by a stratified, seeded split whose manifest
(file -> side) is saved with a run. The scan lists what a user must know before training:
counts, sizes, colour modes, unreadable files (skipped, never fatal), exact duplicates and
leakage between train and the held-out sides.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.data import overlay
from core.data.imaging import (
    UNSUPPORTED_FORMAT,
    UnreadableImage,
    image_info,
    is_image_file,
    is_unsupported_image,
)
from core.data.scan_cache import Found, ScanCache, Stamp
from core.platform.fileio import sha256_file
from core.platform.refusal import Refusal

TRAIN, VALIDATION, TEST = "train", "validation", "test"
SIDES = (TRAIN, VALIDATION, TEST)
VALIDATION_DIR_NAMES = ("validation", "val", "valid")
TEST_DIR_NAMES = ("test",)
IGNORED_NAMES = frozenset({"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini"})
IMBALANCE_RATIO = 3.0  # largest/smallest class at or above this: a warning for the user
EXTERNAL_VALIDATION_PREFIX = "validation-folder/"  # manifest keys of a separate --val-dir
LINK_OUTSIDE = "link to a place outside the dataset folder, not followed"
LINK_REPEATED = "link to a folder already read (a loop or a second way in), not followed"


class DatasetError(Refusal, ValueError):
    """The folder cannot be trained on; the message says what to fix."""


@dataclass(frozen=True)
class Media:
    """What one example of a dataset is: which files count, and how one file is checked.

    `inspect` returns (width, height, mode) or raises ValueError whose message says why the file
    cannot be used. Images are the default; core.data.audio defines the media of sound clips."""

    kind: str  # "images" | "audio"
    noun: str  # one example, in messages: "image", "audio clip"
    accepts: Callable[[Path], bool]  # by name only: is this file an example at all?
    inspect: Callable[[Path], tuple[int, int, str]]


def _image_shape(path: Path) -> tuple[int, int, str]:
    info = image_info(path)
    return info.width, info.height, info.mode


IMAGES = Media("images", "image", is_image_file, _image_shape)


@dataclass(frozen=True)
class Item:
    path: Path  # absolute
    rel: str  # relative to the dataset root, '/'-separated: the manifest key
    label: str
    split: str | None  # fixed by the layout, or None until split
    sha256: str
    width: int
    height: int
    mode: str


Group = tuple[Item, ...]  # files of one content (same sha256): a split keeps them on one side


def fingerprint(items: Iterable[Item]) -> str:
    """Content hash of a set of images (duplicates and order ignored): the caches' key."""
    digest = hashlib.sha256()
    for sha in sorted({i.sha256 for i in items}):
        digest.update(sha.encode())
    return digest.hexdigest()[:32]


@dataclass
class Scan:
    root: Path
    layout: str  # "single" or "split"
    classes: list[str]
    items: list[Item]
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (rel, reason)
    ignored: list[str] = field(default_factory=list)  # non-image / hidden / system files
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # blocking problems
    media: Media = IMAGES  # what the items are: images, or audio clips (core.data.audio)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (rel, why): links, formats
    # the overlay (core.data.overlay): edits applied, and the files they left out of the dataset
    edits: tuple[overlay.Edit, ...] = ()
    excluded: list[Item] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        found = Counter(item.label for item in self.items)
        return {c: found.get(c, 0) for c in self.classes}

    def counts_by_split(self) -> dict[str, dict[str, int]]:
        """Per class on each side the layout fixes: train, and validation and/or test (a
        side drawn from train later is left out)."""
        out: dict[str, dict[str, int]] = {}
        fixed = {i.split for i in self.items}
        held = [s for s in (VALIDATION, TEST) if s in fixed] or [VALIDATION]
        for split in (TRAIN, *held):
            found = Counter(i.label for i in self.items if i.split == split)
            out[split] = {c: found.get(c, 0) for c in self.classes}
        return out

    def duplicates(self) -> list[list[str]]:
        """Groups of files with byte-identical content."""
        groups: dict[str, list[str]] = defaultdict(list)
        for item in self.items:
            groups[item.sha256].append(item.rel)
        return [sorted(g) for g in groups.values() if len(g) > 1]

    def leakage(self) -> list[tuple[str, str]]:
        """(train file, validation or test file) pairs with identical content."""
        train = {i.sha256: i.rel for i in self.items if i.split == TRAIN}
        return [
            (train[i.sha256], i.rel)
            for i in self.items
            if i.split in (VALIDATION, TEST) and i.sha256 in train
        ]

    def _side_of(self, rel: str) -> str:
        return next((i.split for i in self.items if i.rel == rel and i.split), VALIDATION)

    def case_duplicates(self) -> list[list[str]]:
        """Groups of class names that differ only by upper/lower case (Cat / cat)."""
        return _case_groups(self.classes)

    def sizes(self) -> list[tuple[int, int]]:
        return [(i.width, i.height) for i in self.items]

    def modes(self) -> dict[str, int]:
        return dict(Counter(i.mode for i in self.items))

    def images_per_class(self) -> float:
        counts = self.counts()
        return sum(counts.values()) / max(1, len(counts))

    def imbalance_ratio(self) -> float:
        counts = [n for n in self.counts().values() if n > 0]
        return max(counts) / min(counts) if counts else 1.0

    def fingerprint(self) -> str:
        """Content hash of the images (not of names or labels): the feature cache key. Files
        the overlay excluded still count: an exclusion keeps the cached features usable."""
        return fingerprint([*self.items, *self.excluded])

    def summary(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "kind": self.media.kind,
            "layout": self.layout,
            "classes": self.classes,
            "counts": self.counts(),
            "counts_by_split": self.counts_by_split() if self.layout == "split" else None,
            "images": len(self.items),
            "unreadable": [{"file": f, "reason": r} for f, r in self.unreadable],
            "ignored": len(self.ignored),
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "duplicates": self.duplicates(),
            "leakage": [{"train": t, self._side_of(v): v} for t, v in self.leakage()],
            "modes": self.modes(),
            "edits": [e.describe() for e in self.edits],
            "warnings": self.warnings,
            "errors": self.errors,
        }


def _is_ignored(name: str) -> bool:
    return name in IGNORED_NAMES or name.startswith(".") or name.startswith("._")


class _Walk:
    """Walks class folders below one base folder (the dataset root or a separate validation
    folder). Links are followed only when they resolve inside the base, and every real folder
    is read once, so `ln -s / DATASET/rootlink` or a link loop never leaves the dataset; what is
    not followed is listed in `skipped` as (path, why)."""

    def __init__(self, base: Path):
        self.base_real = Path(os.path.realpath(base))
        self.skipped: list[tuple[Path, str]] = []

    def _inside(self, path: Path) -> bool:
        real = Path(os.path.realpath(path))
        return real == self.base_real or self.base_real in real.parents

    def _allowed(self, path: Path) -> bool:
        """A link resolving outside the base is skipped (and listed); anything else is fine."""
        if path.is_symlink() and not self._inside(path):
            self.skipped.append((path, LINK_OUTSIDE))
            return False
        return True

    def class_dirs(self, folder: Path) -> list[Path]:
        return sorted(
            (
                d
                for d in folder.iterdir()
                if not _is_ignored(d.name) and d.is_dir() and self._allowed(d)
            ),
            key=lambda d: d.name,
        )

    def files_under(self, folder: Path) -> list[Path]:
        """All files below a class folder, skipping hidden/system entries and unsafe links."""
        found: list[Path] = []
        seen: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
            real = os.path.realpath(dirpath)
            if real in seen:  # a link loop, or a link to a folder read already
                self.skipped.append((Path(dirpath), LINK_REPEATED))
                dirnames[:] = []
                continue
            seen.add(real)
            here = Path(dirpath)
            dirnames[:] = [
                d for d in sorted(dirnames) if not _is_ignored(d) and self._allowed(here / d)
            ]
            found.extend(here / f for f in sorted(filenames) if self._allowed(here / f))
        return found


def _find_dir(root: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (root / name).is_dir():
            return root / name
    return None


def _layout(root: Path, val_dir: Path | None) -> list[tuple[Path, str | None]]:
    """(folder holding class subfolders, split it fixes) pairs: train/ with validation/ (or
    val/, valid/) and/or test/; a side the layout lacks is drawn from train by `split`."""
    if val_dir is not None:
        return [(root, TRAIN), (val_dir, VALIDATION)]
    held = [
        (found, side)
        for names, side in ((VALIDATION_DIR_NAMES, VALIDATION), (TEST_DIR_NAMES, TEST))
        if (found := _find_dir(root, names)) is not None
    ]
    if (root / "train").is_dir() and held:
        return [(root / "train", TRAIN), *held]
    return [(root, None)]


# Threads, not processes: a file's check is hashing (hashlib releases the GIL), a header read
# and, for formats other than JPEG and PNG, a decode (Pillow releases the GIL while decoding).
# Measured 2026-12-07 on README's 2-core machine (shared, load ~14), 160 12 MP JPEGs, best of
# 3: 1 thread 1.07 s, 2 threads 0.73 s, 4 threads 0.83 s, 8 threads 0.69 s, 2 processes
# (forkserver, their start included) 1.15 s. Threads also overlap waits for a slow disk.
SCAN_WORKERS = 8
SAVE_EVERY = 500  # files read between two writes to the scan cache


@dataclass(frozen=True)
class ScanProgress:
    """How far a scan is: `done` of `total` files, `cached` of them known from the scan cache
    (no reading), after `seconds`."""

    done: int
    total: int
    cached: int
    seconds: float

    @property
    def seconds_left(self) -> float | None:
        """At the pace of the files read so far; None until one has been read."""
        read = self.done - self.cached
        if read <= 0 or self.seconds <= 0:
            return None
        return (self.total - self.done) * self.seconds / read


def _read_file(media: Media, path: Path) -> tuple[Found, bool]:
    """(what the file holds, whether that lasts while the file is unchanged): a file that
    cannot be opened now (permissions, a disk gone) is asked again next time."""
    try:
        width, height, mode = media.inspect(path)
        return Found(sha256_file(path), width, height, mode), True
    except (UnreadableImage, ValueError) as exc:  # the media's "cannot be used, because"
        return Found(problem=str(exc)), not _from_the_system(exc.__cause__)
    except OSError as exc:
        return Found(problem=f"cannot read file ({exc.strerror or exc})"), False


def _from_the_system(exc: BaseException | None) -> bool:
    """An error of the operating system (it has an errno: permissions, a missing disk), not
    one about the file's content (Pillow's own OSErrors have none)."""
    return isinstance(exc, OSError) and exc.errno is not None


@dataclass(frozen=True)
class _Job:
    path: Path
    rel: str
    label: str
    split: str | None

    def result(self, found: Found) -> Item | tuple[str, str]:
        if found.problem:
            return self.rel, found.problem
        return Item(
            self.path,
            self.rel,
            self.label,
            self.split,
            found.sha256,
            found.width,
            found.height,
            found.mode,
        )


def _read_all(
    media: Media,
    jobs: list[_Job],
    workers: int,
    cache: ScanCache | None,
    progress: Callable[[ScanProgress], None] | None,
) -> list[Found]:
    """What each job's file holds: from the cache when unchanged, else read (in parallel)."""
    started = time.perf_counter()
    stamps = {job.path: Stamp.of(job.path) for job in jobs}
    known = cache.known(media.kind, {p: s for p, s in stamps.items() if s}) if cache else {}
    found: dict[Path, Found] = dict(known)
    todo = [job.path for job in jobs if job.path not in found]
    total, cached = len(jobs), len(jobs) - len(todo)

    def report() -> None:
        if progress is not None:
            elapsed = time.perf_counter() - started
            progress(ScanProgress(total - len(todo) + len(fresh), total, cached, elapsed))

    fresh: dict[Path, tuple[Found, bool]] = {}
    unsaved: list[tuple[Path, Stamp, Found]] = []

    def save() -> None:
        if cache is not None and unsaved:
            cache.remember(media.kind, unsaved)
        unsaved.clear()

    report()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_read_file, media, path): path for path in todo}
        for future in as_completed(futures):
            path = futures[future]
            fresh[path] = what, lasting = future.result()
            stamp = stamps[path]
            if lasting and stamp:
                unsaved.append((path, stamp, what))
            if len(unsaved) >= SAVE_EVERY:  # a scan stopped halfway keeps what it read
                save()
            report()
    save()
    found.update((path, what) for path, (what, _) in fresh.items())
    return [found[job.path] for job in jobs]


def scan(
    root: str | Path,
    val_dir: str | Path | None = None,
    workers: int = SCAN_WORKERS,
    media: Media = IMAGES,
    edits: Iterable[overlay.Edit] = (),
    cache: ScanCache | None = None,
    progress: Callable[[ScanProgress], None] | None = None,
) -> Scan:
    """Scan a dataset folder of images (or of another media). Raises DatasetError only when
    the folder itself is unusable; problems with the data (one class, empty classes) are listed
    in `errors`. Whether a folder holds images or sound is decided by core.data.audio.scan_dataset.
    `edits` (core.data.overlay) relabel or exclude files without touching them; the checks see the
    edited dataset. With `cache` (the studio home's), files unchanged since an earlier scan are
    not read again; `progress` is called as files are done."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    val_path = Path(val_dir).expanduser() if val_dir else None
    if val_path is not None and not val_path.is_dir():
        raise DatasetError(f"validation folder not found: {val_path}")

    jobs, ignored, skipped, classes = [], [], [], set()
    for folder, split in _layout(root, val_path):
        external = split == VALIDATION and val_path is not None
        # files of a separate validation folder get a prefix: names may repeat train's
        base, prefix = (
            (val_path, EXTERNAL_VALIDATION_PREFIX) if external and val_path else (root, "")
        )
        walk = _Walk(base)
        for class_dir in walk.class_dirs(folder):
            classes.add(class_dir.name)
            for path in walk.files_under(class_dir):
                rel = prefix + path.relative_to(base).as_posix()
                if _is_ignored(path.name):
                    ignored.append(rel)
                elif media.accepts(path):
                    jobs.append(_Job(path, rel, class_dir.name, split))
                elif media is IMAGES and is_unsupported_image(path):
                    skipped.append((rel, UNSUPPORTED_FORMAT))
                else:
                    ignored.append(rel)
        skipped += [(prefix + p.relative_to(base).as_posix(), why) for p, why in walk.skipped]
    found = _read_all(media, jobs, workers, cache, progress)
    results = [job.result(what) for job, what in zip(jobs, found, strict=True)]

    items = [r for r in results if isinstance(r, Item)]
    unreadable = [r for r in results if not isinstance(r, Item)]
    layout = "split" if any(job.split for job in jobs) or val_path else "single"
    result = Scan(
        root, layout, sorted(classes), items, unreadable, ignored, media=media, skipped=skipped
    )
    _apply_edits(result, tuple(edits))
    _check(result)
    return result


def _apply_edits(result: Scan, edits: tuple[overlay.Edit, ...]) -> None:
    """Relabel and exclude items as the overlay says. An edit whose file is gone, or whose
    class no longer exists, is not applied, and a warning says so (it can be undone)."""
    if not edits:
        return
    in_force = overlay.effective(edits)
    kept, stale = [], []
    for item in result.items:
        edit = in_force.pop(item.rel, None)
        if edit is None:
            kept.append(item)
        elif edit.kind == overlay.EXCLUDE:
            result.excluded.append(item)
        elif edit.to_label in result.classes:
            kept.append(dataclasses.replace(item, label=edit.to_label))
        else:
            kept.append(item)
            stale.append(edit.rel)
    stale += list(in_force)  # files no longer in the dataset
    result.items = kept
    result.edits = edits
    if stale:
        result.warnings.append(
            f"{len(stale)} edit(s) could not be applied (the file or its new class is gone): "
            f"{listing(stale)}; undo them on the Data page"
        )


SHOWN_NAMES = 5  # a repeated warning names this many, then "and N more"


def shown(name: str) -> str:
    """A class or file name safe to print in a message: quoted, and written as an escaped repr
    when it holds a newline or another control character."""
    return f"'{name}'" if name.isprintable() else repr(name)


def listing(names: list[str], limit: int = SHOWN_NAMES) -> str:
    """The first few names, then how many more: 10,000 empty folders make one line."""
    first = ", ".join(shown(n) for n in names[:limit])
    return first + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _about_classes(names: list[str], one: str, many: str) -> list[str]:
    """One message for one class, one summarised message for several, none for none."""
    if not names:
        return []
    if len(names) == 1:
        return [f"class {shown(names[0])} {one}"]
    return [f"{len(names)} classes {many}: {listing(names)}"]


def _check(result: Scan) -> None:
    counts = result.counts()
    usable = [c for c, n in counts.items() if n > 0]
    noun = result.media.noun  # "image", or "audio clip" for sound
    if not result.classes:
        result.errors.append(
            f"no class folders found: put each class's {noun}s in its own subfolder"
        )
    elif len(usable) < 2:
        result.errors.append(
            f"at least two classes with {noun}s are needed, found {len(usable)} "
            f"({listing(usable) or 'none'})"
        )
    empty = [name for name, n in counts.items() if n == 0]
    result.errors += _about_classes(empty, f"has no readable {noun}", f"have no readable {noun}")
    if result.layout == "single":
        single = [name for name, n in counts.items() if n == 1]
        result.warnings += _about_classes(
            single,
            f"has a single {noun}: it is trained on but cannot be validated",
            f"have a single {noun}: they are trained on but cannot be validated",
        )
    if result.layout == "split":
        _check_split(result, counts, noun)
    if result.unreadable:
        result.warnings.append(f"{len(result.unreadable)} unreadable file(s) will be skipped")
    reasons: dict[str, list[str]] = defaultdict(list)
    for rel, why in result.skipped:
        reasons[why].append(rel)
    for why, rels in reasons.items():
        result.warnings.append(f"{len(rels)} item(s) skipped, {why}: {listing(rels)}")
    ratio = result.imbalance_ratio()
    if len(usable) >= 2 and ratio >= IMBALANCE_RATIO:
        result.warnings.append(
            f"classes are imbalanced ({ratio:.0f}:1): class weights will be applied "
            "and per-class metrics matter more than accuracy"
        )
    if leaked := result.leakage():
        result.warnings.append(
            f"{len(leaked)} validation or test image(s) also appear in train (leakage): "
            "their scores will be optimistic"
        )
    if groups := result.duplicates():
        result.warnings.append(f"{len(groups)} group(s) of identical files")
    for group in result.case_duplicates():
        result.warnings.append(
            f"class folders {' and '.join(shown(n) for n in group)} differ only by upper/lower "
            "case: they are trained as separate classes unless you merge them"
        )


def _check_split(result: Scan, counts: dict[str, int], noun: str) -> None:
    by_split = result.counts_by_split()
    for split, per_class in by_split.items():
        if sum(per_class.values()) == 0:
            result.errors.append(f"the {split} folder has no readable {noun}")
    present = [name for name in result.classes if counts[name]]
    result.errors += _about_classes(
        [name for name in present if by_split[TRAIN][name] == 0],
        f"has no training {noun} (only validation or test)",
        f"have no training {noun} (only validation or test)",
    )
    held = TEST if TEST in by_split else VALIDATION  # the side its accuracy is measured on
    result.warnings += _about_classes(
        [name for name in present if by_split[TRAIN][name] and by_split[held][name] == 0],
        f"has no {held} {noun}: its accuracy cannot be measured",
        f"have no {held} {noun}: their accuracy cannot be measured",
    )


def _case_groups(names: list[str]) -> list[list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for name in sorted(names):
        groups[name.casefold()].append(name)
    return [g for g in groups.values() if len(g) > 1]


def merge_case_duplicates(
    root: str | Path, val_dir: str | Path | None = None
) -> dict[str, list[str]]:
    """Merge class folders that differ only by case (Cat / cat) into one: the folder with the
    most files keeps its name, the others' files move into it (renamed `name-2.jpg` ... on a
    clash, nothing is overwritten) and the emptied folders are removed. Returns
    {kept name: [merged names]}. Linked folders are left alone."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    val_path = Path(val_dir).expanduser() if val_dir else None
    merged: dict[str, list[str]] = {}
    for folder, _ in _layout(root, val_path):
        dirs = {d.name: d for d in folder.iterdir() if d.is_dir() and not d.is_symlink()}
        for group in _case_groups(list(dirs)):
            keep = max(group, key=lambda n: (_file_count(dirs[n]), -group.index(n)))
            for name in group:
                if name != keep:
                    _move_files(dirs[name], dirs[keep])
            merged.setdefault(keep, [])
            merged[keep] += [n for n in group if n != keep and n not in merged[keep]]
    return merged


def _file_count(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


def _move_files(source: Path, target: Path) -> None:
    for dirpath, _, filenames in os.walk(source):
        here = Path(dirpath)
        for name in filenames:
            destination = target / (here / name).relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            stem, suffix, n = destination.stem, destination.suffix, 1
            while destination.exists() or destination.is_symlink():
                n += 1
                destination = destination.with_name(f"{stem}-{n}{suffix}")
            os.rename(here / name, destination)
    for dirpath, _, _ in sorted(os.walk(source), key=lambda w: -len(w[0])):
        os.rmdir(dirpath)  # only empty folders are left: everything above was moved


@dataclass(frozen=True)
class Split:
    """Which files train, which validate (early stopping, checkpoint choice) and which test
    (the reported score), plus the class order the model uses. An old manifest has no test
    side: `test` is then empty and the run reports validation scores, named as such."""

    classes: list[str]
    train: list[Item]
    validation: list[Item]
    seed: int
    val_fraction: float
    test: list[Item] = field(default_factory=list)
    test_fraction: float = 0.0
    notes: tuple[str, ...] = ()  # what the user should know about small classes (not saved)

    def sides(self) -> dict[str, list[Item]]:
        return {TRAIN: self.train, VALIDATION: self.validation, TEST: self.test}

    def manifest(self) -> dict[str, Any]:
        files = {i.rel: side for side, items in self.sides().items() for i in items}
        return {
            "classes": self.classes,
            "seed": self.seed,
            "val_fraction": self.val_fraction,
            "test_fraction": self.test_fraction,
            "files": files,
        }

    def counts(self) -> dict[str, dict[str, int]]:
        """Pictures per class on each side: {TRAIN: {class: n}, VALIDATION: ..., TEST: ...}
        (TEST only when the split has a test side)."""
        shown = {s: items for s, items in self.sides().items() if s != TEST or self.test}
        counts = {side: {c: 0 for c in self.classes} for side in shown}
        for side, items in shown.items():
            for item in items:
                counts[side][item.label] += 1
        return counts

    def labels(self, split: str) -> np.ndarray:
        index = {c: k for k, c in enumerate(self.classes)}
        return np.array([index[i.label] for i in self.sides()[split]], dtype=np.int64)


def split(result: Scan, *, val_fraction: float, test_fraction: float, seed: int = 0) -> Split:
    """Seeded, stratified train / validation / test split. Sides a layout fixes (its own
    validation/ or test/ folder) are kept as they are; the others are drawn from the training
    images: `val_fraction` and `test_fraction` of them (of the whole folder for a single
    folder). A class with enough images gets at least one on every drawn side and always keeps
    one in train; a class too small for every side is explained in `notes`. Copies of one
    file (same sha256) drawn from the pool stay together on one side. The fractions are the
    run's (RunConfig holds their defaults: this layer sits below it)."""
    if not result.ok:
        raise DatasetError("; ".join(result.errors))
    if not 0.0 < val_fraction < 1.0:
        raise DatasetError(f"validation fraction must be between 0 and 1, got {val_fraction}")
    if not 0.0 <= test_fraction < 1.0 or val_fraction + test_fraction >= 1.0:
        raise DatasetError(
            f"test fraction must be at least 0 and leave images to train on "
            f"(validation {val_fraction} + test {test_fraction} must stay below 1)"
        )
    fixed = {side: [i for i in result.items if i.split == side] for side in SIDES}
    pool = fixed[TRAIN] if result.layout == "split" else list(result.items)
    drawn = {
        side: fraction
        for side, fraction in ((VALIDATION, val_fraction), (TEST, test_fraction))
        if not fixed[side] and fraction > 0
    }
    train, held, notes = _draw(pool, drawn, seed, result.media.noun)
    sides = {side: fixed[side] or held.get(side, []) for side in (VALIDATION, TEST)}
    if not sides[VALIDATION]:
        raise DatasetError("too few images to validate: give some class at least two images")
    if TEST in drawn and not sides[TEST]:
        notes.append(
            f"no class has enough {result.media.noun}s for a test side: the run reports "
            "its validation scores instead (named as such)"
        )
    return Split(
        result.classes,
        train,
        sides[VALIDATION],
        seed,
        val_fraction,
        sides[TEST],
        test_fraction if fixed[TEST] or TEST in drawn else 0.0,
        tuple(notes),
    )


def _draw(
    pool: list[Item], drawn: dict[str, float], seed: int, noun: str
) -> tuple[list[Item], dict[str, list[Item]], list[str]]:
    """(train, {side: items}, notes): each side in `drawn` takes its fraction of `pool`,
    class by class in proportion (scikit-learn's stratified train_test_split, seeded). Copies
    of one file (same sha256) are drawn as one and stay on one side: a copy in train and
    another in test would inflate the test score. A class with fewer distinct images than
    sides keeps one for train and gives the rest to the first sides; every class keeps at
    least one in train, and a class left off a side is explained in the notes."""
    groups = _content_groups(pool)
    counts = Counter(g[0].label for g in groups)
    enough = {c for c, n in counts.items() if n > len(drawn)}
    placed = _draw_groups([g for g in groups if g[0].label in enough], drawn, seed)
    for name in sorted(set(counts) - enough):
        members = [g for g in groups if g[0].label == name]
        placed[TRAIN].append(members[0])
        for side, group in zip(drawn, members[1:], strict=False):
            placed[side].append(group)
    _every_class_trains(placed)
    _every_side_gets_one(placed, enough)
    present = {side: _labels_on(found) for side, found in placed.items()}
    notes = [
        _small_class_note(name, placed, noun)
        for name in sorted({i.label for i in pool})
        if not all(name in labels for labels in present.values())
    ]
    sides = {side: [i for g in found for i in g] for side, found in placed.items()}
    return sides.pop(TRAIN), sides, notes


def _draw_groups(groups: list[Group], drawn: dict[str, float], seed: int) -> dict[str, list[Group]]:
    """{side: groups}: the stratified draws, on one file per group (its first), by its class."""
    by_first = {g[0].rel: g for g in groups}
    train = [g[0] for g in groups]
    held: dict[str, list[Item]] = {side: [] for side in drawn}
    left = 1.0
    for side, fraction in drawn.items():  # each draw takes its share of what is left
        train, held[side] = _stratified_take(train, fraction / left, seed)
        left -= fraction
    placed = {TRAIN: [by_first[i.rel] for i in train]}
    return placed | {side: [by_first[i.rel] for i in items] for side, items in held.items()}


def _stratified_take(
    items: list[Item], fraction: float, seed: int
) -> tuple[list[Item], list[Item]]:
    """(kept, taken): about `fraction` of `items` taken in every class's proportion; at least
    one per class when the fraction allows. A small class can still be taken whole by a large
    fraction: _every_class_trains gives one back."""
    from sklearn.model_selection import train_test_split

    labels = [i.label for i in items]
    per_class = Counter(labels)
    classes = len(per_class)
    count = min(len(items) - classes, max(classes, round(len(items) * fraction)))
    if count <= 0:
        return items, []
    # scikit-learn stratifies only when every class can be on both sides; a large fraction
    # can leave a class with one image for the last draw, which then draws at random
    even = count >= classes and min(per_class.values()) >= 2
    kept, taken = train_test_split(
        items, test_size=count, stratify=labels if even else None, random_state=seed
    )
    return list(kept), list(taken)


def _content_groups(pool: list[Item]) -> list[Group]:
    """The pool's files grouped by content, in file order (each group in file order)."""
    groups: dict[str, list[Item]] = defaultdict(list)
    for item in sorted(pool, key=lambda i: i.rel):
        groups[item.sha256].append(item)
    return [tuple(g) for g in groups.values()]


def _labels(group: Group) -> set[str]:
    return {i.label for i in group}


def _labels_on(groups: list[Group]) -> Counter[str]:
    """How many groups of each class a side holds (a group of copies in two classes counts
    for both)."""
    return Counter(label for g in groups for label in _labels(g))


def _every_class_trains(placed: dict[str, list[Group]]) -> None:
    """A large held-out fraction can draw all of a small class away from train: move one of
    its images back, from the held side that has the most of them."""
    held = [side for side in placed if side != TRAIN]
    counts = {side: _labels_on(placed[side]) for side in held}
    training = set(_labels_on(placed[TRAIN]))
    for name in sorted(set().union(*counts.values()) - training):
        if name in training:  # came back with copies moved for another class
            continue
        donor = max(held, key=lambda side: counts[side][name])
        k = max(k for k, g in enumerate(placed[donor]) if name in _labels(g))
        group = placed[donor].pop(k)
        counts[donor].subtract(_labels(group))
        training |= _labels(group)
        placed[TRAIN].append(group)


def _every_side_gets_one(placed: dict[str, list[Group]], classes: set[str]) -> None:
    """Rounding may leave a class with enough images off a side: move one there, from train
    when train keeps one of every class the moved copies belong to, else from a held side
    that has more than one. A class with at least as many images as sides always has such
    a donor (two of its images share a side), so it ends on every side."""
    for side in [s for s in placed if s != TRAIN]:
        for name in sorted(classes - set(_labels_on(placed[side]))):
            _move_one_to(placed, name, side)


def _move_one_to(placed: dict[str, list[Group]], name: str, side: str) -> None:
    for donor in (TRAIN, *(s for s in placed if s not in (TRAIN, side))):
        counts = _labels_on(placed[donor])
        for k in reversed(range(len(placed[donor]))):
            labels = _labels(placed[donor][k])
            if name in labels and all(counts[label] > 1 for label in labels):
                placed[side].append(placed[donor].pop(k))
                return


def _small_class_note(name: str, placed: dict[str, list[Group]], noun: str) -> str:
    """What the user is told about a class left off a side: where its images went."""
    sides = " and ".join(side for side, groups in placed.items() if _labels_on(groups)[name])
    contents = sum(_labels_on(groups)[name] for groups in placed.values())
    files = sum(i.label == name for groups in placed.values() for g in groups for i in g)
    copies = f" ({files} files: copies of one {noun} stay on one side)" if files > contents else ""
    return (
        f"class {shown(name)} has only {contents} {noun}(s){copies}, too few to put one on "
        f"every side: they go to {sides} only. Add {noun}s to this class to measure it properly."
    )


def split_from_manifest(result: Scan, manifest: dict[str, Any]) -> Split:
    """Rebuild a saved split (same files, same sides) so runs can be compared on equal terms.
    The manifest's order is kept (it is the split's order): seeded shuffling then draws the
    same batches, so a resumed or reproduced run trains like the run that saved it. An old
    manifest (train and validation only) gives a split without a test side."""
    found = {item.rel: item for item in result.items}
    files = [(found[rel], side) for rel, side in manifest["files"].items() if rel in found]
    train, val, test = ([item for item, s in files if s == side] for side in SIDES)
    return Split(
        list(manifest["classes"]),
        train,
        val,
        manifest["seed"],
        manifest["val_fraction"],
        test,
        manifest.get("test_fraction", 0.0),
    )
