"""The end of a training run: its result record, the saved model and result.json."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from core.data import balance
from core.platform.fileio import atomic_write_text, write_atomically
from core.runs.results import CacheUse, RunResult
from core.runs.runfiles import library_versions
from core.train.context import Context
from core.train.evaluation import held_out_result


def save_model_atomically(model: Any, path: Path) -> None:
    write_atomically(path, model.save, suffix=".keras")  # Keras wants the .keras suffix


def finish(
    ctx: Context,
    model: Any,
    probabilities: np.ndarray,
    epochs_run: int,
    train_seconds: float | None = None,
    note: str | None = None,
    test_probabilities: np.ndarray | None = None,
) -> RunResult:
    """Score the held-out images (`probabilities`: validation, `test_probabilities`: test),
    save the model and result.json; returns the result."""
    ctx.progress("saving", "saving the model")
    result = dataclasses.replace(
        held_out_result(ctx.split, probabilities, test_probabilities),
        epochs_run=epochs_run,
        train_seconds=train_seconds,
        note=note,
        strategy=ctx.config.strategy,
        classes=tuple(ctx.split.classes),
        train_images=len(ctx.split.train),
        validation_images=len(ctx.split.validation),
        weights=ctx.weights.label,
        pretrained=ctx.weights.pretrained,
        class_weights=balance.class_weight(ctx.split),
        feature_cache=CacheUse(ctx.cache.hits, ctx.cache.misses),
    )
    save_model_atomically(model, ctx.folder / "model.keras")
    atomic_write_text(ctx.folder / "result.json", json.dumps(result.to_json(), indent=1))
    atomic_write_text(ctx.folder / "versions.json", json.dumps(library_versions(), indent=1))
    return result
