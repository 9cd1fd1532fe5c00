"""The advisor's measurement: a capped, stratified sample; the count it used; the speed it
records for later estimates."""

from __future__ import annotations

from collections import Counter

import pytest
from synthetic import write_colour_dataset

from core.data import datasets
from core.runs import advisor, speed
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.store import Store
from core.train import training


def _split(tmp_path, per_class: dict[str, int], test_fraction: float = 0.0):
    for name, n in per_class.items():
        write_colour_dataset(tmp_path / "d", (name,), per_class=n, size=12)
    return datasets.split(
        datasets.scan(tmp_path / "d"), val_fraction=0.2, test_fraction=test_fraction
    )


def test_probe_sample_caps_each_class_and_keeps_both_sides(tmp_path):
    split = _split(tmp_path, {"red": 50, "blue": 9, "green": 30})
    sample = advisor.probe_sample(split, max_per_class=20, seed=0)
    total = Counter(i.label for i in [*sample.train, *sample.validation])
    assert total == {"red": 20, "blue": 9, "green": 20}  # a small class is kept whole
    val = Counter(i.label for i in sample.validation)
    assert val["red"] == 4 and val["green"] == 4  # the split's 20% stays 20%
    assert {i.rel for i in sample.validation} <= {i.rel for i in split.validation}  # no leak
    assert {i.rel for i in sample.train} <= {i.rel for i in split.train}
    again = advisor.probe_sample(split, max_per_class=20, seed=0)
    assert [i.rel for i in again.train] == [i.rel for i in sample.train]  # seeded
    assert advisor.probe_images({"red": 50, "blue": 9, "green": 30}, 20) == 49


def test_the_measurement_never_sees_a_test_picture(tmp_path):
    """The probe chooses the strategy: a test picture in it would leak into the choice that the
    held-out score is meant to judge."""
    split = _split(tmp_path, {"red": 40, "blue": 40}, test_fraction=0.15)
    assert split.test
    sample = advisor.probe_sample(split, max_per_class=100, seed=0)
    used = {i.rel for i in [*sample.train, *sample.validation]}
    assert used and not used & {i.rel for i in split.test}
    assert len(used) == len(split.train) + len(split.validation)


def test_a_cap_below_two_is_a_problem(tmp_path):
    config = RunConfig(dataset=str(tmp_path), weights="none", task="probe", probe_max_per_class=1)
    assert any("at least 2 pictures per class" in p for p in config.problems())


@pytest.mark.slow
def test_a_probe_measures_on_the_sample_and_records_the_speed(tmp_path):
    dataset = write_colour_dataset(tmp_path / "colours", ("red", "blue"), per_class=40, size=32)
    store = Store(tmp_path / "home")
    config = RunConfig(
        dataset=str(dataset),
        task="probe",
        image_size=32,
        weights="none",
        batch_size=16,
        probe_max_per_class=35,
    )
    run = store.create(config)
    store.claim_next(worker_pid=0)
    training.execute(store, run.id)
    run = store.get(run.id)
    assert run.status == store_mod.DONE, run.error
    result = run.probe_result
    # 6 of each class's 40 are the held-out test side (15%), never measured on: 34 per class,
    # under the cap of 35
    assert (result.images_used, result.images_total) == (68, 80)
    assert set(result.probe) == {"block3_pool", "block4_pool", "block5_pool"}
    assert set(result.advice.intervals) == set(result.probe)  # cross-validated: with noise
    measured = speed.measured(store.home)
    assert measured.source == "probe" and measured.image_size == 32
