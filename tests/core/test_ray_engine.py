"""The Ray engine on a real (local, 2-CPU) Ray cluster: a small comparison (head and linear x
2 seeds, 32 px, random weights) runs as Ray tasks and lands in the run store with the same
results as the local engine gives for the same seeds; features are extracted once per seed
and reused; Stop ends runs on the cluster; a task started again is shown as a retry.

Tolerance: the two engines run the same TensorFlow code on the same CPU, but a Ray task
limits TensorFlow to the CPU it was given (one thread) while the local worker uses every
core, so float32 sums may be reduced in another order: validation loss within 1e-3 (relative),
the same validation accuracy, the same number of epochs.
"""

from __future__ import annotations

import time

import pytest
from synthetic import write_colour_dataset
from tiny_run import train

from core.data import datasets
from core.jobs import engines, runs, worker
from core.jobs.engines import Engine
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.results import Progress
from core.runs.store import Store

ray = pytest.importorskip("ray")
ray_engine = pytest.importorskip("core.jobs.ray_engine")
pytestmark = [pytest.mark.slow, pytest.mark.ray]
LOSS_TOLERANCE = 1e-3  # relative; see the module docstring
PRIVATE = Engine.choose("ray", "local")


@pytest.fixture(scope="module")
def cluster():
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env=ray_engine.runtime_env(),
    )
    yield
    ray.shutdown()


@pytest.fixture
def no_executor(monkeypatch):
    """The test drives the Ray executor's loop itself, in this process."""
    monkeypatch.setattr(worker, "start_worker", lambda *args, **kwargs: None)
    monkeypatch.delenv(engines.RAY_ADDRESS_ENV, raising=False)


def comparison(dataset, seeds=(0, 1), keys=("head", "linear")) -> list[RunConfig]:
    found = datasets.scan(str(dataset))
    configs = []
    for seed in seeds:
        base = RunConfig(
            dataset=str(dataset),
            image_size=32,
            weights="none",
            batch_size=8,
            epochs=1,
            finetune_epochs=1,
            seed=seed,
            precision="float32",
        )
        configs += runs.comparison_configs(found, base, keys)
    return configs


def test_a_comparison_on_ray_lands_in_the_store_like_a_local_one(cluster, no_executor, tmp_path):
    data = write_colour_dataset(tmp_path / "data", ("red", "blue"), per_class=10, size=32)
    configs = comparison(data)
    store = Store(tmp_path / "ray-home")
    queued = worker.submit_all(store, configs, group_id="cmp", engine=PRIVATE)
    assert {r.engine for r in queued} == {engines.RAY}
    assert ray_engine.serve(store, PRIVATE, idle_seconds=0, once=True) == 4

    local_store = Store(tmp_path / "local-home")
    for queued_run, config in zip(queued, configs, strict=True):
        on_ray = store.get(queued_run.id)
        local = train(local_store, worker.absolute_paths(config))
        assert on_ray.status == local.status == store_mod.DONE, on_ray.error
        ray_result, local_result = on_ray.training_result, local.training_result
        assert ray_result.val_accuracy == local_result.val_accuracy
        assert ray_result.val_loss == pytest.approx(local_result.val_loss, rel=LOSS_TOLERANCE)
        assert ray_result.epochs_run == local_result.epochs_run
        assert ray_result.feature_cache.misses == 0  # every feature came from the shared task
        # live curves: the epochs relayed from the node, the model and files back here
        assert len(store.epoch_history(on_ray.id)) == len(local_store.epoch_history(local.id))
        ray_losses = [b.loss for b in store.batch_history(on_ray.id)]
        assert len(ray_losses) == len(local_store.batch_history(local.id))
        assert on_ray.model_path and (store.run_dir(on_ray.id) / "model.keras").is_file()
        assert (store.run_dir(on_ray.id) / "manifest.json").is_file()
        assert on_ray.progress.stage == "finished"


def test_stop_ends_every_run_of_a_comparison_on_the_cluster(cluster, no_executor, tmp_path):
    data = write_colour_dataset(tmp_path / "data", ("red", "blue"), per_class=10, size=32)
    store = Store(tmp_path / "home")
    configs = comparison(data, seeds=(0,), keys=("head", "finetune", "scratch"))
    worker.submit_all(store, configs, group_id="cmp", engine=PRIVATE)
    driver = ray_engine.Driver(store, PRIVATE)
    assert driver.claim() == 3
    runs.stop_comparison(store, "cmp")
    deadline = time.time() + 300
    while driver.busy and time.time() < deadline:
        driver.pump()
        time.sleep(0.2)
    assert not driver.busy
    ended = store.list(group_id="cmp")
    assert {r.status for r in ended} == {store_mod.STOPPED}, [(r.status, r.error) for r in ended]


def test_the_relay_counts_a_tasks_starts_and_passes_stops(cluster):
    relay = ray_engine.Relay.remote()
    relay.started.remote("r1", "node-a")
    relay.started.remote("r1", "node-b")  # Ray ran the task again: its node was lost
    assert ray.get(relay.report.remote(ray_engine.Report("r1", Progress("training"), ()))) is False
    relay.stop.remote("r1")
    assert ray.get(relay.report.remote(ray_engine.Report("r1", Progress("training"), ()))) is True
    records = ray.get(relay.drain.remote())
    assert [r.attempt for r in records if isinstance(r, ray_engine.Started)] == [1, 2]
    assert ray.get(relay.drain.remote()) == []


def test_a_retry_is_visible_in_the_store(tmp_path):
    store = Store(tmp_path / "home")
    run = store.create(RunConfig(dataset=str(tmp_path)), engine=engines.RAY)
    ray_engine.apply_started(store, ray_engine.Started(run.id, 1, "node-a"))
    assert store.get(run.id).progress.message == "started on node-a"
    ray_engine.apply_started(store, ray_engine.Started(run.id, 2, "node-b"))
    assert store.worker_deaths(run.id) == 1
    assert (
        "node running it was lost: attempt 2 of 3, on node-b" in store.get(run.id).progress.message
    )


def test_queued_runs_fail_with_the_reason_when_the_cluster_cannot_be_joined(tmp_path):
    store = Store(tmp_path / "home")
    run = store.create(RunConfig(dataset=str(tmp_path)), engine=engines.RAY)
    local = store.create(RunConfig(dataset=str(tmp_path)))
    assert ray_engine.fail_queued(store, "the Ray cluster at x could not be joined") == [run.id]
    assert store.get(run.id).status == store_mod.FAILED
    assert "could not be joined" in store.get(run.id).error
    assert store.get(local.id).status == store_mod.QUEUED  # the local worker's run is untouched


def test_task_resources_ask_for_a_gpu_only_on_gpu_clusters():
    assert ray_engine.task_resources({"CPU": 64.0, "GPU": 8.0}) == {"num_gpus": 1, "num_cpus": 1}
    assert ray_engine.task_resources({"CPU": 2.0}) == {"num_cpus": ray_engine.CPUS_PER_RUN}
