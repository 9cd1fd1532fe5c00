"""The task table (core.runs.tasks): each row's runner is a real function of core.train, and
the words, pages and rules read from the table are the ones the studio showed before it."""

from __future__ import annotations

import inspect

import pytest

from core.reports import report
from core.runs import tasks
from core.runs.config import RunConfig
from core.runs.results import result_from_json
from core.runs.store import Run, Store
from core.train import training


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "home")


def _run(store: Store, task: str, strategy: str = "head") -> Run:
    return store.create(RunConfig(dataset="/data/digits", strategy=strategy, task=task))


@pytest.mark.parametrize("name", list(tasks.TASKS))
def test_every_task_runner_resolves_to_a_function_of_core_train(name):
    task = tasks.TASKS[name]
    module, _, function = task.runner.partition(":")
    assert module.startswith("core.train.") and function
    runner = training.task_runner(task)
    assert inspect.isfunction(runner) and runner.__module__ == module
    assert list(inspect.signature(runner).parameters) == ["ctx", "resume"]


def test_each_task_is_keyed_by_its_own_name_and_only_training_trains():
    assert all(key == task.name for key, task in tasks.TASKS.items())
    assert [t.name for t in tasks.TASKS.values() if t.trains] == [tasks.TRAIN]
    assert set(tasks.SIDE_TASKS) == {tasks.PROBE, tasks.MAP}
    assert RunConfig.default("task") == tasks.TRAIN


def test_titles_and_pages_read_the_table(store):
    assert report.task_title(_run(store, "train", "head")) == "Feature extractor + small head"
    assert report.task_title(_run(store, "lr_find", "finetune")) == (
        "learning-rate finder for Fine-tune the top blocks"
    )
    assert report.task_title(_run(store, "probe")) == "similarity measurement"
    assert report.task_title(_run(store, "map")) == "map of the data"
    pages = {name: report.task_page(_run(store, name)) for name in tasks.TASKS}
    assert pages == {"train": "Train", "probe": "Strategy", "map": "Data", "lr_find": "Train"}
    assert report.SIDE_TASKS == {"probe": "similarity measurement", "map": "map of the data"}


def test_an_unknown_task_reads_as_training_for_words_but_is_not_a_training_run(store):
    odd = _run(store, "dream")
    assert report.task_page(odd) == "Train"
    assert report.task_title(odd) == "Feature extractor + small head"
    assert not report.is_training(odd)
    assert "task must be one of train, probe, map, lr_find" in " ".join(odd.config.problems())


def test_only_the_finder_sweeps_on_one_device():
    assert [t.name for t in tasks.TASKS.values() if t.one_device] == [tasks.LR_FIND]


@pytest.mark.parametrize("name", list(tasks.TASKS))
def test_each_tasks_result_type_is_what_the_store_reads_back(name):
    result_type = tasks.TASKS[name].result
    assert type(result_from_json(result_type().to_json())) is result_type
