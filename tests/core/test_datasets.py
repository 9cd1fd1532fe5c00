"""Dataset scan, checks and the seeded stratified split."""

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synthetic import write_colour_dataset

from core.data import datasets
from core.runs.config import RunConfig


def _split(scan, val_fraction=None, seed=0, test_fraction=None):
    """core.data.datasets.split with RunConfig's fraction defaults, as a run passes them."""
    return datasets.split(
        scan,
        val_fraction=RunConfig.default("val_fraction") if val_fraction is None else val_fraction,
        test_fraction=RunConfig.default("test_fraction")
        if test_fraction is None
        else test_fraction,
        seed=seed,
    )


def test_scan_counts_classes_and_reports_unreadable(binary_dataset):
    (binary_dataset / "red" / "broken.jpg").write_bytes(b"not an image at all")
    (binary_dataset / "red" / "notes.txt").write_text("ignored")
    (binary_dataset / "red" / ".DS_Store").write_bytes(b"\0")
    scan = datasets.scan(binary_dataset)
    assert scan.ok
    assert scan.classes == ["blue", "red"]
    assert scan.counts() == {"blue": 12, "red": 12}
    assert [f for f, _ in scan.unreadable] == ["red/broken.jpg"]
    assert "red/notes.txt" in scan.ignored
    assert any("unreadable" in w for w in scan.warnings)


def test_duplicates_and_leakage_are_found(tmp_path):
    root = write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=4)
    for split in ("train", "validation"):
        shutil.copytree(root, tmp_path / "s" / split)
    scan = datasets.scan(tmp_path / "s")
    assert scan.layout == "split"
    assert len(scan.leakage()) == 8  # every validation file is also in train
    assert all(len(group) == 2 for group in scan.duplicates())
    assert any("leakage" in w for w in scan.warnings)


def test_one_class_and_empty_class_are_blocked(tmp_path):
    root = write_colour_dataset(tmp_path / "one", ("red",), per_class=3)
    assert any("at least two classes" in e for e in datasets.scan(root).errors)
    (root / "blue").mkdir()
    assert any("'blue' has no readable image" in e for e in datasets.scan(root).errors)
    with pytest.raises(datasets.DatasetError):
        _split(datasets.scan(root))


def test_missing_folder_raises_clear_error(tmp_path):
    with pytest.raises(datasets.DatasetError, match="not found"):
        datasets.scan(tmp_path / "nowhere")


def test_split_is_stratified_seeded_and_keeps_each_class_on_both_sides(tmp_path):
    root = write_colour_dataset(tmp_path / "d", ("red", "green", "blue"), per_class=10)
    scan = datasets.scan(root)
    first = _split(scan, 0.2, seed=1, test_fraction=0)
    again = _split(scan, 0.2, seed=1, test_fraction=0)
    other = _split(scan, 0.2, seed=2, test_fraction=0)
    assert first.manifest() == again.manifest()
    assert first.manifest()["files"] != other.manifest()["files"]
    for name in scan.classes:
        assert sum(i.label == name for i in first.validation) == 2
        assert sum(i.label == name for i in first.train) == 8
    rebuilt = datasets.split_from_manifest(scan, first.manifest())
    assert sorted(i.rel for i in rebuilt.validation) == sorted(i.rel for i in first.validation)


def test_a_rebuilt_split_keeps_the_order_seeded_shuffling_depends_on(tmp_path):
    scan = datasets.scan(write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=10))
    first = _split(scan, 0.3, seed=3)
    rebuilt = datasets.split_from_manifest(scan, first.manifest())
    assert [i.rel for i in rebuilt.train] == [i.rel for i in first.train]
    assert [i.rel for i in rebuilt.validation] == [i.rel for i in first.validation]
    assert [i.rel for i in first.train] != sorted(i.rel for i in first.train)  # not trivially


def test_single_image_class_is_warned_and_trains_only(tmp_path):
    root = write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=5)
    for extra in list((root / "blue").iterdir())[1:]:
        extra.unlink()
    scan = datasets.scan(root)
    assert scan.ok and any("single image" in w for w in scan.warnings)
    split = _split(scan, 0.2)
    assert [i.label for i in split.train].count("blue") == 1
    assert all(i.label == "red" for i in split.validation) and split.validation


def test_imbalance_is_warned(tmp_path):
    root = write_colour_dataset(tmp_path / "d", ("red",), per_class=12)
    write_colour_dataset(root, ("blue",), per_class=2)
    scan = datasets.scan(root)
    assert scan.imbalance_ratio() == 6
    assert any("imbalanced" in w for w in scan.warnings)


def test_fingerprint_depends_on_content_not_names(tmp_path):
    a = write_colour_dataset(tmp_path / "a", ("red", "blue"), per_class=3)
    b = tmp_path / "b"
    shutil.copytree(a, b)
    (b / "red").rename(b / "crimson")
    assert datasets.scan(a).fingerprint() == datasets.scan(b).fingerprint()
    write_colour_dataset(b, ("green",), per_class=1)
    assert datasets.scan(a).fingerprint() != datasets.scan(b).fingerprint()


def test_separate_validation_folder_keeps_every_file_in_the_manifest(tmp_path):
    train = write_colour_dataset(tmp_path / "train", ("red", "blue"), per_class=5)
    val = write_colour_dataset(tmp_path / "val", ("red", "blue"), per_class=2, seed=9)
    scan = datasets.scan(train, val)
    split = _split(scan)  # the test side is drawn from train: one per class
    assert (len(split.train), len(split.validation), len(split.test)) == (8, 4, 2)
    assert len(split.manifest()["files"]) == 14  # same names in both folders do not collide
    rebuilt = datasets.split_from_manifest(scan, split.manifest())
    assert (len(rebuilt.train), len(rebuilt.validation), len(rebuilt.test)) == (8, 4, 2)


def test_class_without_training_images_is_blocked(tmp_path):
    write_colour_dataset(tmp_path / "d" / "train", ("red", "blue"), per_class=3)
    write_colour_dataset(tmp_path / "d" / "validation", ("red", "green"), per_class=2)
    scan = datasets.scan(tmp_path / "d")
    assert any("'green' has no training image" in e for e in scan.errors)
    assert any("'blue' has no validation image" in w for w in scan.warnings)


def test_split_counts_pictures_per_class_on_each_side(tmp_path):
    root = write_colour_dataset(tmp_path / "three", ("red", "green", "blue"), per_class=10)
    split = _split(datasets.scan(root), 0.2, seed=3, test_fraction=0.1)
    counts = split.counts()
    assert counts[datasets.VALIDATION] == {"blue": 2, "green": 2, "red": 2}
    assert counts[datasets.TEST] == {"blue": 1, "green": 1, "red": 1}
    assert counts[datasets.TRAIN] == {"blue": 7, "green": 7, "red": 7}
    assert list(counts[datasets.TRAIN]) == split.classes


def test_links_leading_outside_the_dataset_are_skipped_and_listed(tmp_path):
    root = write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=3)
    outside = write_colour_dataset(tmp_path / "elsewhere", ("green",), per_class=2)
    (root / "rootlink").symlink_to("/")  # a class folder that is the whole filesystem
    (root / "green").symlink_to(outside / "green")
    (root / "red" / "stolen.png").symlink_to(outside / "green" / "green_00.png")
    (root / "red" / "loop").symlink_to(root / "red")  # a loop inside the dataset: harmless
    (root / "blue" / "more").symlink_to(root / "red")  # inside the dataset: followed
    scan = datasets.scan(root)
    assert scan.classes == ["blue", "red"]
    assert scan.counts() == {"blue": 6, "red": 3}
    skipped = dict(scan.skipped)
    assert skipped["rootlink"] == datasets.LINK_OUTSIDE
    assert skipped["green"] == datasets.LINK_OUTSIDE
    assert skipped["red/stolen.png"] == datasets.LINK_OUTSIDE
    assert skipped["red/loop"] == datasets.LINK_REPEATED
    assert any("skipped" in w and "rootlink" in w for w in scan.warnings)
    assert scan.summary()["skipped"]


def test_heic_photos_are_read_and_unsupported_formats_are_listed(tmp_path):
    from PIL import Image

    pytest.importorskip("pillow_heif")
    root = write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=2)
    Image.new("RGB", (40, 32), (30, 40, 220)).save(root / "blue" / "phone.heic")
    (root / "red" / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "red" / "camera.CR2").write_bytes(b"II*\0raw")
    scan = datasets.scan(root)
    assert scan.counts() == {"blue": 3, "red": 2}
    heic = next(i for i in scan.items if i.rel == "blue/phone.heic")
    assert (heic.width, heic.height) == (40, 32)
    skipped = dict(scan.skipped)
    assert skipped["red/logo.svg"] == skipped["red/camera.CR2"] == datasets.UNSUPPORTED_FORMAT
    assert "convert to JPEG or PNG" in datasets.UNSUPPORTED_FORMAT


def test_class_folders_differing_by_case_are_warned_and_can_be_merged(tmp_path):
    root = write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=3)
    write_colour_dataset(tmp_path / "upper", ("red",), per_class=2, seed=1)
    (tmp_path / "upper" / "red").rename(root / "Red")
    (root / "Red" / "red_00.png").rename(root / "Red" / "red_00.png")  # a clash after merging
    scan = datasets.scan(root)
    assert scan.classes == ["Red", "blue", "red"]
    assert scan.case_duplicates() == [["Red", "red"]]
    assert any("'Red' and 'red'" in w and "case" in w for w in scan.warnings)
    assert datasets.merge_case_duplicates(root) == {"red": ["Red"]}
    merged = datasets.scan(root)
    assert merged.classes == ["blue", "red"] and merged.counts() == {"blue": 3, "red": 5}
    assert not merged.case_duplicates() and not (root / "Red").exists()


def test_repeated_warnings_are_summarised_and_odd_names_escaped(tmp_path):
    root = write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=3)
    for k in range(300):
        (root / f"empty{k:03d}").mkdir()
    (root / "bad\nname\x1b[31m").mkdir()
    (root / "zz").mkdir()
    for k in range(40):
        (root / "red" / f"link{k}.png").symlink_to("/etc/hostname")
    scan = datasets.scan(root)
    messages = scan.errors + scan.warnings
    assert len(messages) < 10
    (empty,) = [m for m in scan.errors if "no readable image" in m]
    assert empty.startswith("302 classes have no readable image: 'bad\\nname\\x1b[31m', ")
    assert empty.endswith("and 297 more")
    assert not any("\n" in m or "\x1b" in m for m in messages)
    (links,) = [w for w in scan.warnings if "skipped" in w]
    assert links.startswith("40 item(s) skipped") and links.endswith("and 35 more")


def _sides(split: datasets.Split) -> dict[str, set[str]]:
    return {side: {i.rel for i in items} for side, items in split.sides().items()}


def test_default_split_is_70_15_15_stratified_seeded_and_disjoint(tmp_path):
    root = write_colour_dataset(tmp_path / "d", ("red", "green", "blue"), per_class=20, size=16)
    scan = datasets.scan(root)
    split = _split(scan, seed=4)
    each = {"blue": 0, "green": 0, "red": 0}
    assert split.counts() == {
        datasets.TRAIN: dict.fromkeys(each, 14),
        datasets.VALIDATION: dict.fromkeys(each, 3),
        datasets.TEST: dict.fromkeys(each, 3),
    }
    sides = _sides(split)
    assert not (sides["train"] & sides["validation"] or sides["train"] & sides["test"])
    assert not sides["validation"] & sides["test"]
    assert set.union(*sides.values()) == {i.rel for i in scan.items}
    assert _split(scan, seed=4).manifest() == split.manifest()
    assert _sides(_split(scan, seed=5))["test"] != sides["test"]
    manifest = split.manifest()
    assert manifest["test_fraction"] == 0.15
    assert sum(side == "test" for side in manifest["files"].values()) == 9
    rebuilt = datasets.split_from_manifest(scan, manifest)
    assert [i.rel for i in rebuilt.test] == [i.rel for i in split.test]
    assert [i.rel for i in rebuilt.train] == [i.rel for i in split.train]


def test_own_test_folder_is_kept_as_it_is(tmp_path):
    three = tmp_path / "three"
    write_colour_dataset(three / "train", per_class=6, size=16)
    write_colour_dataset(three / "validation", per_class=2, size=16, seed=1)
    write_colour_dataset(three / "test", per_class=3, size=16, seed=2)
    scan = datasets.scan(three)
    assert scan.layout == "split" and set(scan.counts_by_split()) == set(datasets.SIDES)
    split = _split(scan)
    assert {rel.split("/")[0] for rel in _sides(split)["test"]} == {"test"}
    assert (len(split.train), len(split.validation), len(split.test)) == (12, 4, 6)

    two = tmp_path / "two"  # train/ + test/: validation is drawn from train, test kept
    write_colour_dataset(two / "train", per_class=10, size=16)
    write_colour_dataset(two / "test", per_class=3, size=16, seed=2)
    split = _split(datasets.scan(two), 0.2)
    assert {rel.split("/")[0] for rel in _sides(split)["test"]} == {"test"}
    assert {rel.split("/")[0] for rel in _sides(split)["validation"]} == {"train"}
    assert (len(split.train), len(split.validation), len(split.test)) == (16, 4, 6)


def test_a_test_image_also_in_train_is_leakage(tmp_path):
    write_colour_dataset(tmp_path / "d" / "train", per_class=3, size=16)
    write_colour_dataset(tmp_path / "d" / "test", per_class=3, size=16)  # same pictures
    scan = datasets.scan(tmp_path / "d")
    assert len(scan.leakage()) == 6 and any("leakage" in w for w in scan.warnings)
    assert {"train", "test"} <= set(scan.summary()["leakage"][0])


def test_tiny_classes_keep_one_for_training_and_are_explained(tmp_path):
    root = write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=10, size=16)
    write_colour_dataset(root, ("green",), per_class=2, size=16)
    split = _split(datasets.scan(root))
    counts = split.counts()
    assert counts[datasets.TRAIN]["green"] == 1 and counts[datasets.VALIDATION]["green"] == 1
    assert counts[datasets.TEST]["green"] == 0
    assert all(counts[datasets.TRAIN][c] >= 1 for c in split.classes)
    assert all(counts[datasets.TEST][c] >= 1 for c in ("red", "blue"))
    assert len(split.notes) == 1 and "'green' has only 2 image(s)" in split.notes[0]

    tiny = write_colour_dataset(tmp_path / "t", ("red", "blue"), per_class=2, size=16)
    split = _split(datasets.scan(tiny))  # too small for any test side: said, no crash
    assert not split.test and len(split.train) == 2 and len(split.validation) == 2
    assert any("validation scores instead" in note for note in split.notes)


def test_an_old_manifest_without_a_test_side_still_loads(tmp_path):
    scan = datasets.scan(write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=5))
    files = {i.rel: ("validation" if i.rel.endswith("_00.png") else "train") for i in scan.items}
    old = {"classes": ["blue", "red"], "seed": 0, "val_fraction": 0.2, "files": files}
    split = datasets.split_from_manifest(scan, old)
    assert (len(split.train), len(split.validation), split.test) == (8, 2, [])
    assert split.test_fraction == 0.0 and datasets.TEST not in split.counts()


def test_fractions_leaving_nothing_to_train_on_are_refused(tmp_path):
    scan = datasets.scan(write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=5))
    with pytest.raises(datasets.DatasetError, match="must stay below 1"):
        _split(scan, 0.5, test_fraction=0.5)


def _scan_of(contents: dict[str, list[int]]) -> datasets.Scan:
    """A single-folder scan built in memory (no files): per class, the content of each file
    as a number; equal numbers are copies of one file (same sha256)."""
    items = [
        datasets.Item(Path("/d") / rel, rel, label, None, f"content-{c}", 16, 16, "RGB")
        for label, ids in contents.items()
        for k, c in enumerate(ids)
        for rel in [f"{label}/{label}_{k:03d}.png"]
    ]
    return datasets.Scan(Path("/d"), "single", sorted(contents), items)


def _sides_of_content(split: datasets.Split) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for side, items in split.sides().items():
        for item in items:
            found.setdefault(item.sha256, set()).add(side)
    return found


def test_copies_of_one_file_stay_on_one_side(tmp_path):
    root = write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=10, size=16)
    for picture in list(root.glob("*/*.png")):
        shutil.copy(picture, picture.with_name(f"{picture.stem}_copy.png"))
    scan = datasets.scan(root)
    assert len(scan.duplicates()) == 20
    for seed in range(5):
        split = _split(scan, 0.2, seed, 0.2)
        assert all(len(sides) == 1 for sides in _sides_of_content(split).values())
        assert sum(len(items) for items in split.sides().values()) == 40
        assert all(n >= 2 for n in split.counts()[datasets.TEST].values())  # a pair per class


def test_every_class_keeps_a_training_image_under_large_held_out_fractions():
    for small in (3, 4, 5):
        contents = {"red": list(range(20)), "blue": list(range(100, 120))}
        contents["green"] = list(range(200, 200 + small))
        for seed in range(5):
            split = _split(_scan_of(contents), 0.45, seed, 0.45)
            counts = split.counts()
            assert all(counts[side]["green"] >= 1 for side in datasets.SIDES), (small, seed)
            assert split.notes == ()  # enough images for every side: nothing to explain


def test_a_small_class_of_copies_is_counted_by_content_and_its_note_names_its_sides():
    contents = {"red": list(range(10)), "blue": list(range(100, 110)), "green": [7, 7, 8]}
    split = _split(_scan_of(contents), seed=0)
    counts = split.counts()
    assert (counts["train"]["green"], counts["validation"]["green"]) in ((2, 1), (1, 2))
    assert counts["test"]["green"] == 0
    (note,) = split.notes
    assert "'green' has only 2 image(s) (3 files: copies" in note
    assert "they go to train and validation only" in note


def test_fraction_defaults_live_in_runconfig_only(tmp_path):
    """The data layer sits below RunConfig: it has no fraction of its own to fall back on."""
    assert not [name for name in vars(datasets) if name.startswith("DEFAULT_")]
    scan = _scan_of({"red": list(range(10)), "blue": list(range(100, 110))})
    with pytest.raises(TypeError):
        datasets.split(scan)  # type: ignore[call-arg]
    split = datasets.split(scan, val_fraction=0.3, test_fraction=0.1)
    assert (split.val_fraction, split.test_fraction) == (0.3, 0.1)
    assert (len(split.train), len(split.validation), len(split.test)) == (12, 6, 2)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    classes=st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=25), min_size=2, max_size=4),
    val_fraction=st.sampled_from([0.05, 0.15, 0.3, 0.45, 0.6]),
    test_fraction=st.sampled_from([0.0, 0.05, 0.15, 0.3, 0.45]),
    seed=st.integers(0, 2**16),
)
def test_any_split_is_disjoint_trains_every_class_and_keeps_copies_together(
    classes, val_fraction, test_fraction, seed
):
    """Contents are numbers from a small range: copies within a class and across classes."""
    if val_fraction + test_fraction >= 1:
        return
    scan = _scan_of({name: ids for name, ids in zip("abcd", classes, strict=False)})
    try:
        split = _split(scan, val_fraction, seed, test_fraction)
    except datasets.DatasetError as refused:
        assert "too few images to validate" in str(refused)
        return
    rels = [[i.rel for i in items] for items in split.sides().values()]
    assert sorted(sum(rels, [])) == sorted(i.rel for i in scan.items)  # every file, once
    counts = split.counts()
    assert all(counts[datasets.TRAIN][c] >= 1 for c in scan.classes)
    assert all(len(sides) == 1 for sides in _sides_of_content(split).values())
    explained = {note.split("'")[1] for note in split.notes if note.startswith("class ")}
    drawn = [datasets.TRAIN, datasets.VALIDATION, *([datasets.TEST] if test_fraction else [])]
    for name in scan.classes:  # a class missing from a drawn side is explained, and only then
        missing = any(sum(i.label == name for i in split.sides()[s]) == 0 for s in drawn)
        assert (name in explained) == missing, (name, counts, split.notes)
