"""Executes one run: prepare, then the advisor's probe, the map of the data, the learning-rate
finder, a closed-form linear fit or the strategy's phases, then evaluation and artifacts; the
outcome is recorded in the store.

Called by the worker process (core.jobs.worker), never by a page. The jobs live in their own
modules: run_context (prepare), extraction, linear_fits, phases, resume, evaluation, artifacts.
"""

from __future__ import annotations

import dataclasses
import errno
import importlib
import logging
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.data.datasets import DatasetError
from core.model import device, vgg16
from core.platform import settings
from core.platform.fileio import remove_stale_temps, sha256_file
from core.platform.refusal import Refusal
from core.runs import budget, tasks
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.results import Progress, Result, RunResult
from core.runs.store import Store
from core.train import features
from core.train.artifacts import finish
from core.train.context import Context, prepare
from core.train.evaluation import predict_items
from core.train.extraction import build_base, extract
from core.train.features import ExtractionStopped
from core.train.linear_fits import run_linear, run_probe
from core.train.lr_finder import run_lr_find
from core.train.phases import Network, run_phases

log = logging.getLogger(__name__)
STOPPED_EARLY = "stopped before any epoch finished: no model was saved"
DIVERGED_NOTE = (
    "the loss became NaN: training stopped and the last good weights were kept; "
    "try a lower learning rate"
)


# -- entry point ------------------------------------------------------------------------------
def execute(store: Store, run_id: str) -> str:
    """Run to completion and record the outcome; returns the final status. Never raises for a
    problem of the run itself: that becomes a failed run with a message."""
    try:
        return _execute(store, run_id)
    finally:
        _release_memory()


def _release_memory() -> None:
    """A worker runs many runs: drop this run's models and Keras' global graph state."""
    import gc

    import keras

    features.release_models()
    keras.backend.clear_session()
    gc.collect()


def _execute(store: Store, run_id: str) -> str:
    run = store.get(run_id)
    folder = store.run_dir(run_id)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(folder)  # left by a worker killed mid-write
        if problems := run.config.problems():
            raise DatasetError("; ".join(problems))
        ctx = prepare(store, run_id, run.config, folder, resume=run.resume)
        # several GPUs: mirrored, with the global batch and scaled learning rates (one: as is)
        spread = device.plan_distribution(device.detect_gpus(), run.config)
        ctx.config = device.distributed_config(ctx.config, spread)
        ctx.replicas = spread.replicas
        runner = task_runner(run.config.task_spec)
        with device.distribution_scope(spread):
            result, status = runner(ctx, run.resume)
        if isinstance(result, RunResult) and ctx.device_use is not None:
            result = dataclasses.replace(result, device=ctx.device_use)
        note = result.note if isinstance(result, RunResult) else None
        _record(store, run_id, status, folder, error=note, result=result)
        return status
    except ExtractionStopped:  # a stop during a first extraction: nothing trained, no model
        store.finish(
            run_id,
            store_mod.STOPPED,
            error="stopped before training began",
            progress=Progress("finished", store_mod.STOPPED),
        )
        return store_mod.STOPPED
    except (Refusal, ValueError) as exc:  # a "no" (DatasetError, WeightsError): its words
        return _fail(store, run_id, str(exc), folder)
    except Exception as exc:  # noqa: BLE001 - a run must end with a status, whatever happened
        if (message := resource_failure(exc, run.config, store.home)) is not None:
            remove_partial_files(store.home)
            return _fail(store, run_id, message, folder)
        try:
            (folder / "traceback.txt").write_text(traceback.format_exc())
        except OSError:
            log.exception("run %s failed", run_id)
        return _fail(store, run_id, f"{type(exc).__name__}: {exc}", folder)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and those it was raised from or while handling (Keras wraps errors)."""
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    return chain


def resource_failure(exc: BaseException, config: RunConfig, home: Path) -> str | None:
    """'out of memory: lower the batch size to N or the image size to M' or 'disk full (needs
    about X MB in PATH)' when the error (or its cause) is one of those, else None."""
    for cause in _causes(exc):
        text = str(cause)
        if (
            isinstance(cause, MemoryError)
            or type(cause).__name__ == "ResourceExhaustedError"
            or "OOM when allocating" in text
        ):
            return budget.out_of_memory_advice(config)
        if (isinstance(cause, OSError) and cause.errno == errno.ENOSPC) or (
            "No space left on device" in text
        ):
            images = budget.count_files(config.dataset, config.val_dir)
            return budget.disk_full_message(config, images, home)
    return None


def remove_partial_files(home: Path) -> None:
    """After a full disk: temporary files of interrupted writes (finished files, such as the
    previous checkpoint, stay)."""
    for folder in (settings.runs_dir(home), settings.cache_dir(home)):
        if folder.is_dir():
            remove_stale_temps(folder)


def _record(
    store: Store,
    run_id: str,
    status: str,
    folder: Path,
    error: str | None,
    result: Result | None = None,
) -> None:
    """The final status, its message as progress, the result and the saved model's file."""
    extra = {"result": result} if result is not None else {}
    message = status if status != store_mod.FAILED else error or ""  # no error: no message
    store.finish(
        run_id,
        status,
        error=error,
        progress=Progress("finished", message),
        **extra,
        **_model_fields(folder),
    )


def _fail(store: Store, run_id: str, message: str, folder: Path) -> str:
    _record(store, run_id, store_mod.FAILED, folder, error=message)
    return store_mod.FAILED


def _model_fields(folder: Path) -> dict[str, Any]:
    model = folder / "model.keras"
    if not model.exists():
        return {}
    return {"model_path": str(model), "model_sha256": sha256_file(model)}


# -- the runners (core.runs.tasks names each task's) -------------------------------------------
Runner = Callable[[Context, bool], tuple[Result, str]]


def task_runner(task: tasks.Task) -> Runner:
    """The function that executes a task, from its row's "module:function" (the table lives
    in core.runs, below this layer, so it names its runner as text)."""
    module, _, name = task.runner.partition(":")
    runner: Runner = getattr(importlib.import_module(module), name)
    return runner


def probe_task(ctx: Context, resume: bool = False) -> tuple[Result, str]:
    return run_probe(ctx, build_base(ctx))


def map_task(ctx: Context, resume: bool = False) -> tuple[Result, str]:
    from core.train import datamap

    return datamap.run_map(ctx), store_mod.DONE


def lr_find_task(ctx: Context, resume: bool = False) -> tuple[Result, str]:
    return run_lr_find(ctx, _dense_network(ctx, build_base(ctx)))


def training_task(ctx: Context, resume: bool = False) -> tuple[RunResult, str]:
    base = build_base(ctx)
    if ctx.config.strategy_spec.closed_form:
        return run_linear(ctx, base)
    net = _dense_network(ctx, base)
    started = time.time()
    outcome = run_phases(ctx, net, resume)
    if outcome.status == store_mod.STOPPED and outcome.epochs_run == 0:
        return RunResult(note=STOPPED_EARLY), outcome.status
    scored = (net.base, net.head, net.inference, outcome.deepest)
    validation = predict_items(ctx, *scored, ctx.split.validation, "validation")
    # the test images are predicted once, here, after every training decision is taken
    test = predict_items(ctx, *scored, ctx.split.test, "test") if ctx.split.test else None
    result = finish(
        ctx,
        net.inference,
        validation,
        epochs_run=outcome.epochs_run,
        train_seconds=time.time() - started,
        note=DIVERGED_NOTE if outcome.status == store_mod.DIVERGED else None,
        test_probabilities=test,
    )
    return result, outcome.status


def _dense_network(ctx: Context, base: Any) -> Network:
    """A dense head adapted to the bottleneck features, and base + head as one model (the
    model that is saved, never augmented)."""
    from core.model import models

    head = models.dense_head(ctx.num_classes, ctx.config.seed)
    bottleneck = extract(ctx, base, [(vgg16.BOTTLENECK_LAYER, "map")])
    output = (vgg16.BOTTLENECK_LAYER, "map")
    models.adapt_head(head, bottleneck.batches(output, ctx.split.train, ctx.config.batch_size))
    return Network(base, head, models.image_model(base, head))
