"""One tiny finished run (2 classes, 32 px, no pretrained weights, 1 epoch), trained in-process
like the worker does: for tests of what happens after training (export, bundle, reproduce)."""

from __future__ import annotations

from pathlib import Path

from synthetic import write_colour_dataset

from core.runs.config import RunConfig
from core.runs.store import Run, Store
from core.train import training

TINY = dict(strategy="head", image_size=32, weights="none", batch_size=8, epochs=1, seed=0)


def train(store: Store, config: RunConfig) -> Run:
    run = store.create(config)
    store.claim_next(worker_pid=0)
    training.execute(store, run.id)
    return store.get(run.id)


def tiny_run(root: Path) -> tuple[Store, Run]:
    dataset = write_colour_dataset(root / "data", ("red", "blue"), per_class=10, size=32)
    store = Store(root / "home")
    return store, train(store, RunConfig(dataset=str(dataset), **TINY))
