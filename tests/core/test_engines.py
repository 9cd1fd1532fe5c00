"""core.jobs.engines and the store/worker side of the Ray engine, without a cluster: the choice of
engine from settings, the reachability check (nothing queued when it fails), which runs share
one feature extraction, and that the local worker and the Ray executor never take each
other's runs or mark each other's live runs interrupted."""

from __future__ import annotations

import os
import socket

import pytest

from core.data import datasets
from core.jobs import engines, runs, worker
from core.jobs.engines import Engine
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.store import Store


@pytest.fixture
def store(tmp_path, monkeypatch) -> Store:
    monkeypatch.setattr(worker, "start_worker", lambda *args, **kwargs: None)
    monkeypatch.delenv(engines.RAY_ADDRESS_ENV, raising=False)
    return Store(tmp_path / "home")


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def config(dataset, **changes) -> RunConfig:
    return RunConfig(**{"dataset": str(dataset), "image_size": 32, "weights": "none", **changes})


# -- choosing the engine ------------------------------------------------------------------------
def test_local_is_the_default_and_an_address_alone_means_ray():
    assert Engine.choose() == Engine() and not Engine().is_ray
    assert Engine.choose(None, "10.0.0.5:6379") == Engine("ray", "10.0.0.5:6379")
    assert Engine.choose("ray") == Engine("ray", "auto")
    with pytest.raises(ValueError, match="needs --engine ray"):
        Engine.choose("local", "10.0.0.5:6379")
    with pytest.raises(ValueError, match="unknown engine"):
        Engine.choose("spark")


def test_the_app_reads_its_cluster_from_the_environment():
    assert Engine.from_environment({}) == Engine()
    assert Engine.from_environment({"STUDIO_RAY_ADDRESS": " "}) == Engine()
    chosen = Engine.from_environment(
        {"STUDIO_RAY_ADDRESS": "ray://head:10001", "STUDIO_RAY_SHARED_DATA": "1"}
    )
    assert chosen == Engine("ray", "ray://head:10001", shared_data=True)
    assert chosen.executor_args() == [
        "--engine",
        "ray",
        "--ray-address",
        "ray://head:10001",
        "--ray-shared-data",
    ]


def test_addresses_are_parsed_and_nonsense_is_named():
    assert engines.host_and_port("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert engines.host_and_port("ray://head:10001/") == ("head", 10001)
    assert engines.host_and_port("head") is None
    problem = engines.ray_problem("not an address")
    assert problem is not None and "is not a Ray address" in problem


def test_an_unreachable_cluster_is_a_sentence_saying_what_to_do(tmp_path):
    port = closed_port()
    problem = engines.ray_problem(f"127.0.0.1:{port}")
    assert problem is not None and f"127.0.0.1:{port} cannot be reached" in problem
    assert "ray status" in problem
    no_cluster = engines.ray_problem("auto", {"RAY_TMPDIR": str(tmp_path)})
    assert no_cluster is not None and "ray start --head" in no_cluster
    assert engines.ray_problem("local") is None  # a private cluster is started, not reached


def test_auto_finds_the_cluster_ray_start_left_on_this_machine(tmp_path):
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        (tmp_path / "ray").mkdir()
        (tmp_path / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{port}\n")
        assert engines.ray_problem("auto", {"RAY_TMPDIR": str(tmp_path)}) is None


def test_an_unreachable_cluster_queues_nothing(store, binary_dataset):
    engine = Engine.choose("ray", f"127.0.0.1:{closed_port()}")
    with pytest.raises(engines.EngineUnavailable, match="cannot be reached"):
        worker.submit_all(store, [config(binary_dataset), config(binary_dataset)], engine=engine)
    found = datasets.scan(str(binary_dataset))
    refused = runs.start_comparison(
        store, found, config(binary_dataset), ["head", "linear"], engine=engine
    )
    assert isinstance(refused, runs.Refused) and "cannot be reached" in refused.reason
    assert store.list() == []


def test_the_cli_refuses_an_unreachable_cluster_in_one_line(binary_dataset, tmp_path, capsys):
    from core import cli

    code = cli.main(
        [
            "--home",
            str(tmp_path / "home"),
            "train",
            str(binary_dataset),
            "--weights",
            "none",
            "--engine",
            "ray",
            "--ray-address",
            f"127.0.0.1:{closed_port()}",
        ]
    )
    assert code == cli.EXIT_BAD_INPUT
    assert "cannot be reached" in capsys.readouterr().err
    assert Store(tmp_path / "home").list() == []


def test_cli_compare_takes_the_engine_too(binary_dataset, tmp_path, capsys):
    from core import cli

    code = cli.main(
        [
            "--home",
            str(tmp_path / "home"),
            "compare",
            str(binary_dataset),
            "--weights",
            "none",
            "--strategies",
            "head,linear",
            "--seeds",
            "2",
            "--ray-address",  # an address alone means the ray engine
            f"127.0.0.1:{closed_port()}",
        ]
    )
    assert code == cli.EXIT_BAD_INPUT
    assert "The comparison cannot start" in capsys.readouterr().err
    assert Store(tmp_path / "home").list() == []  # not one of its 4 runs queued


# -- one executor per engine --------------------------------------------------------------------
def test_each_executor_claims_only_its_engines_runs(store, binary_dataset):
    ray_run = store.create(config(binary_dataset), engine=engines.RAY)
    local_run = store.create(config(binary_dataset))
    assert store.get(ray_run.id).engine == engines.RAY and local_run.engine == engines.LOCAL
    assert store.claim_next(worker_pid=1).id == local_run.id
    assert store.claim_next(worker_pid=1) is None  # the Ray run waits for the Ray executor
    assert store.claim_next(worker_pid=1, engine=engines.RAY).id == ray_run.id


def test_a_live_ray_executors_runs_are_not_interrupted_by_the_local_side(store, binary_dataset):
    run = store.create(config(binary_dataset), engine=engines.RAY)
    lock = worker._try_lock(store.home, engines.RAY)  # this process plays the Ray executor
    try:
        store.claim_next(os.getpid(), engine=engines.RAY)
        assert worker.ray_driver_pid(store.home) == os.getpid()
        assert worker.reap(store, start=False) == []
        assert store.get(run.id).status == store_mod.RUNNING
    finally:
        lock.close()
    assert worker.ray_driver_pid(store.home) is None
    assert worker.reap(store, start=False) == [run.id]  # its executor is gone: interrupted


def test_a_ray_run_is_not_resumed_locally(store, binary_dataset):
    run = store.create(config(binary_dataset), engine=engines.RAY)
    store.update(run.id, status=store_mod.INTERRUPTED)
    with pytest.raises(ValueError, match="cannot be resumed"):
        worker.resume(store, run.id)


def test_the_home_remembers_its_cluster_for_a_restarted_executor(tmp_path):
    assert engines.remembered(tmp_path) == Engine("ray", "auto")
    engines.remember(tmp_path, Engine.choose("ray", "head:6379", shared_data=True))
    assert engines.remembered(tmp_path) == Engine("ray", "head:6379", shared_data=True)


# -- one extraction for the runs that share it -------------------------------------------------
def test_each_strategy_names_the_cached_features_it_reads(binary_dataset):
    assert engines.needed_outputs(config(binary_dataset, strategy="linear")) == (
        ("block5_pool", "gap"),
    )
    assert engines.needed_outputs(config(binary_dataset, strategy="head")) == (
        ("block5_pool", "map"),
    )
    assert engines.needed_outputs(config(binary_dataset, strategy="finetune")) == (
        ("block5_pool", "map"),
        ("block4_pool", "map"),
    )
    assert engines.needed_outputs(config(binary_dataset, strategy="finetune", augment=True)) == (
        ("block5_pool", "map"),
        ("block4_pool", "map"),  # scoring still reads the cut below the unfrozen block
    )
    assert engines.needed_outputs(config(binary_dataset, task="probe")) == ()


def test_runs_with_the_same_features_share_one_extraction(binary_dataset):
    planned = [
        config(binary_dataset, strategy="head", seed=0),
        config(binary_dataset, strategy="finetune", seed=0),
        config(binary_dataset, strategy="head", seed=1),  # random weights: its own features
        config(binary_dataset, strategy="finetune", seed=1),
        config(binary_dataset, strategy="linear", seed=2),  # alone: extracts for itself
    ]
    shared = engines.shared_extractions(planned)
    assert [s.runs for s in shared] == [(0, 1), (2, 3)]
    assert shared[0].outputs == (("block5_pool", "map"), ("block4_pool", "map"))
    imagenet = [
        config(binary_dataset, strategy=s, weights="imagenet", seed=k)
        for k, s in enumerate(("head", "linear"))
    ]  # pretrained weights: the seed does not matter
    assert [s.runs for s in engines.shared_extractions(imagenet)] == [(0, 1)]
