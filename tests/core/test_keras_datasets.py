"""Keras datasets written as image folders, from injected arrays: nothing is downloaded."""

from __future__ import annotations

import dataclasses
import urllib.error
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from core.data import datasets, keras_datasets
from core.data.imaging import load_rgb
from core.data.keras_datasets import KERAS_DATASETS, SampleUnavailable, write_keras_dataset
from core.runs import speed


def digits(per_class: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """28x28 grayscale: the left half white for even labels, the right half for odd ones."""
    labels = np.repeat(np.arange(len(per_class)), per_class)
    np.random.default_rng(seed).shuffle(labels)
    images = np.zeros((len(labels), 28, 28), np.uint8)
    for i, label in enumerate(labels):
        if label % 2 == 0:
            images[i, :, :14] = 255
        else:
            images[i, :, 14:] = 255
        images[i, 26:, 26:] = i % 200  # every picture different: the split keeps copies together
    return images, labels.astype(np.uint8)


def mnist_loader(calls: list | None = None, train=(6,) * 10, test=(2,) * 10):
    def load():
        if calls is not None:
            calls.append(1)
        return digits(train, 0), digits(test, 1)

    return load


def test_registry_is_data():
    assert set(KERAS_DATASETS) == {"cifar10", "mnist", "fashion_mnist"}
    for spec in KERAS_DATASETS.values():
        assert len(spec.classes) == len(set(spec.classes)) == 10
        assert spec.default_size == 48 and callable(spec.loader)
        assert all("/" not in c for c in spec.classes)  # usable as folder names
        assert spec.source.startswith("https://")


def test_layout_counts_and_scan(tmp_path):
    seen = []
    folder = write_keras_dataset(
        "mnist",
        tmp_path,
        loader=mnist_loader(),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert folder == tmp_path / "mnist-48px"
    assert seen[-1] == (80, 80)
    for c in KERAS_DATASETS["mnist"].classes:
        assert len(list((folder / "train" / c).glob("*.png"))) == 6
        assert len(list((folder / "test" / c).glob("*.png"))) == 2
    assert not (folder / "validation").exists()  # validation is drawn from train/
    result = datasets.scan(folder)
    assert result.ok, result.errors
    assert result.layout == "split" and result.classes == [str(d) for d in range(10)]
    assert set(result.sizes()) == {(48, 48)} and set(result.modes()) == {"RGB"}
    assert not result.unreadable


def test_images_are_rgb_resized_and_keep_their_structure(tmp_path):
    folder = write_keras_dataset("mnist", tmp_path, size=64, loader=mnist_loader())
    for label, white_left in (("4", True), ("7", False)):
        path = next((folder / "train" / label).glob("*.png"))
        pixels = load_rgb(path)
        assert pixels.shape == (64, 64, 3)
        assert (pixels[..., 0] == pixels[..., 2]).all()
        left, right = pixels[:, :28].mean(), pixels[:, 36:].mean()
        assert (left > 250 and right < 5) if white_left else (right > 250 and left < 5)


def test_colour_images_keep_their_colours(tmp_path):
    x = np.zeros((20, 32, 32, 3), np.uint8)
    x[..., 0] = 200  # red everywhere
    x[:, 16:, :, 2] = 90  # blue in the bottom half
    y = np.repeat(np.arange(10), 2).reshape(-1, 1).astype(np.uint8)  # (N, 1) like cifar10
    folder = write_keras_dataset("cifar10", tmp_path, loader=lambda: ((x, y), (x, y)))
    pixels = load_rgb(next((folder / "train" / "truck").glob("*.png")))
    assert pixels.shape == (48, 48, 3)
    assert abs(int(pixels[5, 5, 0]) - 200) <= 1 and pixels[5, 5, 2] == 0
    assert abs(int(pixels[40, 5, 2]) - 90) <= 1


def test_subset_is_stratified_and_seeded(tmp_path):
    loader = mnist_loader(train=(30, 20, 10, 8, 8, 8, 8, 8, 8, 3), test=(10,) * 10)
    folder = write_keras_dataset("mnist", tmp_path, size=32, subset=5, loader=loader)
    assert folder.name == "mnist-32px-subset5"
    result = datasets.scan(folder)
    counts = result.counts_by_split()
    # 5 per class, or all of a smaller class; test: 5 * 100 / 116 -> 5 per class
    assert counts["train"] == {**{str(d): 5 for d in range(9)}, "9": 3}
    assert counts["test"] == {str(d): 5 for d in range(10)}
    # the same seed picks the same files; another seed gets its own folder and other files
    again = write_keras_dataset("mnist", tmp_path / "again", size=32, subset=5, loader=loader)
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    assert names == sorted(p.relative_to(again).as_posix() for p in again.rglob("*.png"))
    other = write_keras_dataset("mnist", tmp_path, size=32, subset=5, seed=1, loader=loader)
    assert other.name == "mnist-32px-subset5-seed1"
    assert names != sorted(p.relative_to(other).as_posix() for p in other.rglob("*.png"))


def test_stratified_indices():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 7)
    picked = keras_datasets.stratified_indices(labels, 4, seed=0)
    assert np.bincount(labels[picked]).tolist() == [4, 3, 4]
    assert (np.diff(picked) > 0).all()
    assert len(keras_datasets.stratified_indices(labels, None, seed=0)) == 20


def test_marker_prevents_rewriting(tmp_path):
    calls = []
    folder = write_keras_dataset("fashion_mnist", tmp_path, loader=mnist_loader(calls))
    assert (folder / keras_datasets.MARKER_FILE).is_file()
    assert (folder / "train" / "ankle_boot").is_dir()
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*.png")}
    assert write_keras_dataset("fashion_mnist", tmp_path, loader=mnist_loader(calls)) == folder
    assert calls == [1]
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*.png")} == before


def test_interrupted_write_is_completed(tmp_path):
    folder = write_keras_dataset("mnist", tmp_path, size=32, loader=mnist_loader())
    (folder / keras_datasets.MARKER_FILE).unlink()
    victim = next((folder / "train" / "3").glob("*.png"))
    victim.unlink()
    write_keras_dataset("mnist", tmp_path, size=32, loader=mnist_loader())
    assert victim.is_file() and (folder / keras_datasets.MARKER_FILE).is_file()


@pytest.mark.parametrize(
    "error",
    [
        Exception("URL fetch failure on https://example.invalid: None -- [Errno -3]"),
        urllib.error.URLError("Temporary failure in name resolution"),
        OSError("Network is unreachable"),
    ],
)
def test_offline_gives_sample_unavailable(tmp_path, error):
    def offline():
        raise error

    with pytest.raises(SampleUnavailable) as caught:
        write_keras_dataset("cifar10", tmp_path, loader=offline)
    message = str(caught.value)
    assert "needs internet" in message and "~/.keras/datasets" in message
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in message
    assert isinstance(caught.value, RuntimeError)
    assert not (tmp_path / "cifar10-48px").exists()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown"):
        write_keras_dataset("imagenet", tmp_path, loader=mnist_loader())
    with pytest.raises(ValueError, match="minimum"):
        write_keras_dataset("mnist", tmp_path, size=28, loader=mnist_loader())
    with pytest.raises(ValueError, match="subset"):
        write_keras_dataset("mnist", tmp_path, subset=0, loader=mnist_loader())


def test_planned_images_full_size_and_capped():
    assert keras_datasets.planned_images("cifar10") == 60_000
    assert keras_datasets.planned_images("mnist") == 70_000
    assert keras_datasets.planned_images("fashion_mnist") == 70_000
    # 100 per class: 1,000 training images and the test share (100 * 10k / 50k = 20 per class)
    assert keras_datasets.planned_images("cifar10", 100) == 1_000 + 200
    assert keras_datasets.planned_images("cifar10", 10**6) == 60_000  # a cap above the data


def test_planned_images_match_what_is_written(tmp_path, monkeypatch):
    spec = KERAS_DATASETS["mnist"]
    small = dataclasses.replace(spec, train_images=60, test_images=20)
    monkeypatch.setitem(KERAS_DATASETS, "mnist", small)
    for subset in (None, 3):
        folder = write_keras_dataset(
            "mnist", tmp_path, size=32, subset=subset, loader=mnist_loader()
        )
        written = len(list(folder.glob("*/*/*.png")))
        assert written == keras_datasets.planned_images("mnist", subset)


def test_extraction_estimate_uses_the_measured_speed(tmp_path):
    guess = speed.keras_dataset_estimate("cifar10", None, None, speed.measured(tmp_path))
    assert "60,000 images at 48 px" in guess and "cautious guess" in guess
    # 100 images/s measured at 96 px: 48 px is 4x fewer pixels, 400 images/s, 150 s
    speed.record(tmp_path, 1000, 10.0, 96, "float32", "bench")
    measured = speed.measured(tmp_path)
    assert speed.estimate_extraction_seconds(60_000, 48, measured) == pytest.approx(150)
    text = speed.keras_dataset_estimate("cifar10", 48, None, measured)
    assert "about 3 min" in text and "100 images/s measured at 96 px" in text


def test_full_size_is_the_default_and_reaches_the_advisors_large_quadrant(tmp_path):
    """Written with no cap, a full-size-shaped dataset (1,000 training images per class here;
    two classes keep the test fast) lands in the advisor's "large" row; capped, in "small"."""
    from core.runs import advisor

    per_class = advisor.LARGE_PER_CLASS
    loader = mnist_loader(train=(per_class,) * 2, test=(5,) * 2)
    folder = write_keras_dataset("mnist", tmp_path, size=32, loader=loader)
    assert folder.name == "mnist-32px"
    scan = datasets.scan(folder)
    assert scan.ok, scan.errors
    train_counts = Counter(i.label for i in scan.items if i.split == datasets.TRAIN)
    assert train_counts == {"0": per_class, "1": per_class}
    assert advisor.size_of(scan.images_per_class()) == "large"
    probe = {"block3_pool": 0.6, "block4_pool": 0.7, "block5_pool": 0.9}
    advice = advisor.advise(scan.images_per_class(), probe)
    assert (advice.size, advice.strategy) == ("large", "finetune")
    capped = write_keras_dataset("mnist", tmp_path, size=32, subset=100, loader=loader)
    assert advisor.size_of(datasets.scan(capped).images_per_class()) == "small"


def test_keras_samples_are_full_size_unless_capped(tmp_path, monkeypatch):
    from core.data import samples

    asked = []

    def spy(name, root, size=None, subset=None, **kwargs):
        asked.append((name, subset))
        (Path(root) / name).mkdir()
        return Path(root) / name

    monkeypatch.setattr(keras_datasets, "write_keras_dataset", spy)
    samples.prepare("cifar10", tmp_path)
    samples.prepare("fashion_mnist", tmp_path, per_class=250)
    assert asked == [("cifar10", None), ("fashion_mnist", 250)]


def test_sample_caps_are_checked(tmp_path):
    from core.data import samples

    with pytest.raises(ValueError, match="fixed size"):
        samples.prepare("digits", tmp_path, per_class=10)
    with pytest.raises(ValueError, match="at least 1"):
        samples.prepare("mnist", tmp_path, per_class=0)


@pytest.mark.parametrize("subset, test_per_class", [(None, 3), (4, 2)])
def test_official_test_set_is_the_test_side_and_validation_comes_from_train(
    tmp_path, subset, test_per_class
):
    """Scanned and split, the written folder gives train / validation / test: the official
    test images are the whole test side and nothing else; validation is drawn from train/.
    With a cap, the test side keeps the official share (4 * 30 / 80 -> 2 per class)."""
    loader = mnist_loader(train=(8,) * 10, test=(3,) * 10)
    folder = write_keras_dataset("mnist", tmp_path, size=32, subset=subset, loader=loader)
    scan = datasets.scan(folder)
    assert scan.ok, scan.errors
    assert scan.counts_by_split().keys() == {"train", "test"}
    official = {p.relative_to(folder).as_posix() for p in (folder / "test").rglob("*.png")}
    split = datasets.split(scan, val_fraction=0.25, test_fraction=0.15)
    assert {i.rel for i in split.test} == official
    assert Counter(i.label for i in split.test) == {str(d): test_per_class for d in range(10)}
    assert split.train and split.validation
    assert all(i.rel.startswith("train/") for i in [*split.train, *split.validation])
    assert {i.label for i in split.validation} == set(scan.classes)  # stratified


def test_a_complete_old_layout_is_reused_as_is_with_a_note(tmp_path):
    """A folder written before test/ (official test set as validation/) still trains as it
    did: nothing is rewritten, so runs trained on it keep their files; a note says so."""
    calls = []
    folder = write_keras_dataset("mnist", tmp_path, size=32, loader=mnist_loader(calls))
    assert keras_datasets.old_layout_note(folder) is None
    (folder / "test").rename(folder / "validation")  # what an earlier version wrote
    before = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    assert write_keras_dataset("mnist", tmp_path, size=32, loader=mnist_loader(calls)) == folder
    assert calls == [1]
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png")) == before
    note = keras_datasets.old_layout_note(folder)
    assert note and "official test set" in note and str(folder) in note and "mnist" in note
    scan = datasets.scan(folder)
    assert scan.ok and scan.counts_by_split().keys() == {"train", "validation"}
    split = datasets.split(scan, val_fraction=0.15, test_fraction=0.15)
    assert all(i.rel.startswith("validation/") for i in split.validation)
    assert split.test and all(i.rel.startswith("train/") for i in split.test)


def test_an_unfinished_old_layout_is_finished_in_the_new_one(tmp_path):
    """An interrupted old write (no marker, the official test set in validation/) becomes
    train/ + test/: the official test images never end up on two sides."""
    folder = write_keras_dataset("mnist", tmp_path, size=32, loader=mnist_loader())
    expected = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    (folder / keras_datasets.MARKER_FILE).unlink()
    (folder / "test").rename(folder / "validation")
    next((folder / "validation" / "3").glob("*.png")).unlink()  # the interruption
    write_keras_dataset("mnist", tmp_path, size=32, loader=mnist_loader())
    assert not (folder / "validation").exists()
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png")) == expected
    assert keras_datasets.old_layout_note(folder) is None


def test_sample_command_prints_the_old_layout_note_and_the_folder_last(tmp_path, capsys):
    from core import cli
    from core.data import samples
    from core.platform import settings

    root = settings.samples_dir(settings.studio_home(tmp_path))
    old = write_keras_dataset("mnist", root, loader=mnist_loader())
    (old / "test").rename(old / "validation")
    assert samples.prepare("mnist", tmp_path) == old  # complete: the loader is not called
    assert cli.main(["--home", str(tmp_path), "sample", "mnist"]) == 0
    out, err = capsys.readouterr()
    assert out.strip().splitlines()[-1] == str(old)
    assert "note:" in err and "official test set" in err
