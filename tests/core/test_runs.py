"""core.jobs.runs: one run at a time, one measurement of a dataset at a time, comparisons on equal
terms; refusals are typed and queue nothing. No worker process is started."""

from __future__ import annotations

import json
import os

import pytest

from core.data import datasets
from core.jobs import runs, worker
from core.runs import store as store_mod
from core.runs import strategies
from core.runs.config import RunConfig
from core.runs.store import Store


@pytest.fixture
def store(tmp_path, monkeypatch) -> Store:
    monkeypatch.setattr(worker, "start_worker", lambda *args, **kwargs: None)
    return Store(tmp_path / "home")


def config(dataset, **changes) -> RunConfig:
    return RunConfig(**{"dataset": str(dataset), "image_size": 32, "weights": "none", **changes})


def test_a_second_training_run_is_refused_while_one_is_under_way(store, binary_dataset):
    first = runs.start_training(store, config(binary_dataset))
    assert isinstance(first, store_mod.Run) and first.status == store_mod.QUEUED
    second = runs.start_training(store, config(binary_dataset, strategy="linear"))
    assert isinstance(second, runs.Refused) and second.busy
    assert "already under way" in second.reason
    assert [r.id for r in store.list()] == [first.id]


def test_wrong_settings_are_refused_with_the_problem_and_queue_nothing(store, binary_dataset):
    refused = runs.start_training(store, config(binary_dataset, image_size=8))
    assert isinstance(refused, runs.Refused) and not refused.busy
    assert refused.reason.startswith("Training cannot start: image size must be at least 32")
    assert store.list() == []


def test_the_learning_rate_finder_starts_under_the_same_rule_with_its_own_words(
    store, binary_dataset
):
    refused = runs.start_lr_find(store, config(binary_dataset, image_size=8))
    assert refused.reason.startswith("The learning-rate finder cannot start: image size")
    finder = runs.start_lr_find(store, config(binary_dataset, strategy="finetune"))
    assert isinstance(finder, store_mod.Run) and finder.config.task == "lr_find"
    busy = runs.start_training(store, config(binary_dataset))
    assert busy.busy and busy.reason.endswith("wait for it to end or stop it first.")
    again = runs.start_lr_find(store, config(binary_dataset, strategy="finetune"))
    assert again.busy and "the learning-rate finder can start when it ends" in again.reason
    assert [r.id for r in store.list()] == [finder.id]


def test_a_run_of_a_dead_worker_does_not_block_the_next_one(store, binary_dataset):
    orphan = store.create(config(binary_dataset))
    store.claim_next(worker_pid=2**22 + 12345)  # no such process
    started = runs.start_training(store, config(binary_dataset))
    assert isinstance(started, store_mod.Run)
    assert store.get(orphan.id).status == store_mod.INTERRUPTED


def test_resume_waits_for_the_active_run(store, binary_dataset):
    orphan = store.create(config(binary_dataset))
    store.claim_next(worker_pid=2**22 + 12345)
    other = runs.start_training(store, config(binary_dataset))  # marks the orphan interrupted
    refused = runs.resume_training(store, orphan.id)
    assert isinstance(refused, runs.Refused) and refused.busy
    store.finish(other.id, store_mod.DONE)
    resumed = runs.resume_training(store, orphan.id)
    assert isinstance(resumed, store_mod.Run)
    assert (store.get(orphan.id).status, store.get(orphan.id).resume) == (store_mod.QUEUED, True)


def test_one_measurement_per_dataset_at_a_time_even_behind_training(store, binary_dataset):
    training = runs.start_training(store, config(binary_dataset))
    dataset = training.dataset  # the absolute path the store keeps
    probe = runs.start_probe(store, dataset, 32, "none")
    assert isinstance(probe, store_mod.Run) and probe.config.task == "probe"
    again = runs.start_probe(store, dataset, 32, "none")
    assert isinstance(again, runs.Refused) and again.busy
    assert len(store.list()) == 2


def test_comparison_configs_share_split_seed_size_and_weights(binary_dataset):
    found = datasets.scan(binary_dataset)
    base = config(binary_dataset, seed=7, epochs=2, finetune_epochs=1)
    configs = runs.comparison_configs(found, base)
    assert [c.strategy for c in configs] == list(strategies.STRATEGIES)
    manifests = {json.dumps(c.manifest, sort_keys=True) for c in configs}
    assert len(manifests) == 1 and len(json.loads(manifests.pop())["files"]) == len(found.items)
    assert {(c.seed, c.image_size, c.weights, c.epochs, c.label) for c in configs} == {
        (7, 32, "none", 2, "compare")
    }


def test_start_comparison_queues_one_group_then_refuses_a_second(store, binary_dataset):
    found = datasets.scan(binary_dataset)
    queued = runs.start_comparison(store, found, config(binary_dataset))
    assert len(queued) == len(strategies.STRATEGIES)
    assert len({r.group_id for r in queued}) == 1 and queued[0].group_id
    again = runs.start_comparison(store, found, config(binary_dataset))
    assert isinstance(again, runs.Refused) and again.busy
    assert len(store.list()) == len(strategies.STRATEGIES)


def test_a_comparison_with_wrong_settings_queues_nothing(store, binary_dataset):
    found = datasets.scan(binary_dataset)
    refused = runs.start_comparison(store, found, config(binary_dataset, batch_size=0))
    assert isinstance(refused, runs.Refused) and not refused.busy
    assert refused.reason == "The comparison cannot start: batch size must be at least 1"
    assert store.list() == []


def test_runs_remember_the_session_that_started_them(store, binary_dataset):
    started = runs.start_training(store, config(binary_dataset), owner="tab-1")
    assert store.get(started.id).owner == "tab-1"
    probe = runs.start_probe(store, str(binary_dataset), 32, "none", owner="tab-2")
    assert store.get(probe.id).owner == "tab-2"


def test_the_command_line_obeys_the_one_run_rule(store, binary_dataset, capsys, monkeypatch):
    from core import cli

    monkeypatch.setattr(cli.common, "follow", lambda *args, **kwargs: None)
    first = runs.start_training(store, config(binary_dataset), owner="tab-1")
    home = str(store.home)
    common = ["--home", home, "--weights", "none", "--image-size", "32"]
    assert cli.main(["train", str(binary_dataset), *common]) == cli.EXIT_BAD_INPUT
    assert "already under way" in capsys.readouterr().err
    assert [r.id for r in store.list()] == [first.id]
    store.finish(first.id, store_mod.DONE)
    cli.main(["train", str(binary_dataset), *common, "--quiet"])
    assert store.list()[0].owner == runs.CLI_OWNER


def test_a_comparison_of_chosen_strategies_queues_only_those_in_table_order(store, binary_dataset):
    found = datasets.scan(binary_dataset)
    queued = runs.start_comparison(store, found, config(binary_dataset), ["finetune", "linear"])
    assert [r.strategy for r in queued] == ["linear", "finetune"]
    assert sorted(r.strategy for r in store.list()) == ["finetune", "linear"]


def test_a_comparison_of_no_or_unknown_strategies_is_refused(store, binary_dataset):
    found = datasets.scan(binary_dataset)
    empty = runs.start_comparison(store, found, config(binary_dataset), [])
    assert isinstance(empty, runs.Refused) and "at least one strategy" in empty.reason
    unknown = runs.start_comparison(store, found, config(binary_dataset), ["head", "magic"])
    assert isinstance(unknown, runs.Refused) and "magic" in unknown.reason
    assert store.list() == []


def test_stop_comparison_stops_the_running_and_the_queued_runs_of_its_group_only(
    store, binary_dataset
):
    earlier = store.create(config(binary_dataset), group_id="old")
    store.finish(earlier.id, store_mod.DONE)
    outsider = store.create(config(binary_dataset))  # not in the group: left alone
    group = [
        store.create(config(binary_dataset, strategy=key), group_id="g")
        for key in ("head", "linear", "full")
    ]
    store.finish(group[0].id, store_mod.DONE)
    store.update(group[1].id, status=store_mod.RUNNING, worker_pid=os.getpid())
    after = {r.id: r for r in runs.stop_comparison(store, "g")}
    assert set(after) == {r.id for r in group}
    assert after[group[0].id].status == store_mod.DONE  # finished: keeps its result
    assert after[group[1].id].status == store_mod.STOPPING and after[group[1].id].stop_requested
    assert after[group[2].id].status == store_mod.STOPPED  # queued: never starts
    assert store.get(outsider.id).status == store_mod.QUEUED
    assert store.get(earlier.id).status == store_mod.DONE
    assert store.claim_next(worker_pid=os.getpid()).id == outsider.id


def test_repeated_comparison_varies_training_seeds_on_one_split(binary_dataset):
    found = datasets.scan(binary_dataset)
    base = config(binary_dataset, seed=7)
    configs = runs.comparison_configs(found, base, ["head", "linear"], seeds=3)
    # repeat by repeat, so a comparison stopped midway has as many seeds of each strategy
    assert [(c.strategy, c.seed) for c in configs] == [
        ("linear", 7),
        ("head", 7),
        ("linear", 8),
        ("head", 8),
        ("linear", 9),
        ("head", 9),
    ]
    manifests = {json.dumps(c.manifest, sort_keys=True) for c in configs}
    assert len(manifests) == 1 and json.loads(manifests.pop())["seed"] == 7


def test_repeated_splits_draw_one_split_per_repeat_shared_by_its_strategies(binary_dataset):
    found = datasets.scan(binary_dataset)
    configs = runs.comparison_configs(
        found, config(binary_dataset), ["head", "linear"], seeds=3, repeat_splits=True
    )
    by_seed: dict[int, set[str]] = {}
    for c in configs:
        assert c.manifest["seed"] == c.seed
        by_seed.setdefault(c.seed, set()).add(json.dumps(c.manifest["files"], sort_keys=True))
    assert all(len(files) == 1 for files in by_seed.values())  # paired within a repeat
    assert len(set().union(*by_seed.values())) > 1  # the splits differ between repeats


def test_start_comparison_queues_seeds_times_strategies_in_one_group(store, binary_dataset):
    found = datasets.scan(binary_dataset)
    queued = runs.start_comparison(store, found, config(binary_dataset), ["linear"], seeds=2)
    assert [(r.strategy, r.config.seed) for r in queued] == [("linear", 0), ("linear", 1)]
    assert len({r.group_id for r in queued}) == 1


@pytest.mark.parametrize("seeds", [0, runs.MAX_SEEDS + 1, True, 2.5])
def test_a_comparison_with_a_bad_number_of_seeds_queues_nothing(store, binary_dataset, seeds):
    found = datasets.scan(binary_dataset)
    refused = runs.start_comparison(store, found, config(binary_dataset), seeds=seeds)
    assert isinstance(refused, runs.Refused) and "Seeds per strategy" in refused.reason
    assert store.list() == []
