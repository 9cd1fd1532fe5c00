"""Executes one run: scan, split, features, the strategy's phases, evaluation, artifacts.

Called by the worker process (core.worker), never by a page. Each phase trains the layers the
strategy table names. Without augmentation, a phase whose lower blocks are frozen trains a
"top model" on cached outputs of the last frozen layer instead of pushing every image through
the frozen blocks every epoch: same mathematics (VGG16 has no batch norm and the frozen part is
deterministic), a fraction of the compute.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import advisor, datasets, device, features, settings, strategies, vgg16
from core import store as store_mod
from core.datasets import TRAIN, VALIDATION, DatasetError, Item, Split
from core.features import ExtractionStopped
from core.fileio import atomic_write_text, remove_stale_temps, sha256_file, write_atomically
from core.metrics import class_probabilities, log_loss
from core.runconfig import RunConfig
from core.store import Store
from core.weights import WeightsError, WeightsSpec

log = logging.getLogger(__name__)
CLASS_WEIGHT_RATIO = 1.5  # largest/smallest class at or above this: balanced class weights
MOST_WRONG = 16


class RunStopped(Exception):
    """The user asked to stop."""


class RunDiverged(Exception):
    """The loss became NaN or infinite."""


@dataclass
class Context:
    store: Store
    run_id: str
    config: RunConfig
    folder: Path
    split: Split
    scan: datasets.Scan
    weights: WeightsSpec
    cache: features.FeatureCache

    def progress(self, stage: str, message: str, **extra) -> None:
        self.store.update(self.run_id, progress={"stage": stage, "message": message, **extra})

    def should_stop(self) -> bool:
        return self.store.stop_requested(self.run_id)

    @property
    def num_classes(self) -> int:
        return len(self.split.classes)

    def cache_key(self) -> features.CacheKey:
        return features.CacheKey(
            self.scan.fingerprint(), self.weights.cache_id(self.config.seed), self.config.image_size
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
        config = run.run_config
        problems = config.problems()
        if problems:
            raise DatasetError("; ".join(problems))
        ctx = _prepare(store, run_id, config, folder, resume=run.resume)
        runner = _run_probe if config.task == "probe" else _run_training
        result, status = runner(ctx, resume=run.resume)
        store.finish(
            run_id,
            status,
            result=result,
            error=result.get("note"),
            progress={"stage": "finished", "message": status},
            **_model_fields(folder),
        )
        return status
    except ExtractionStopped:  # a stop during a first extraction: nothing trained, no model
        store.finish(
            run_id,
            store_mod.STOPPED,
            error="stopped before training began",
            progress={"stage": "finished", "message": store_mod.STOPPED},
        )
        return store_mod.STOPPED
    except (WeightsError, ValueError) as exc:  # DatasetError is a ValueError
        return _fail(store, run_id, str(exc), folder)
    except MemoryError:
        return _fail(store, run_id, "out of memory: lower the batch size or the image size", folder)
    except Exception as exc:  # noqa: BLE001 - a run must end with a status, whatever happened
        if type(exc).__name__ == "ResourceExhaustedError":
            return _fail(
                store, run_id, "out of memory: lower the batch size or the image size", folder
            )
        try:
            (folder / "traceback.txt").write_text(traceback.format_exc())
        except OSError:
            log.exception("run %s failed", run_id)
        return _fail(store, run_id, f"{type(exc).__name__}: {exc}", folder)


def _fail(store: Store, run_id: str, message: str, folder: Path) -> str:
    store.finish(
        run_id,
        store_mod.FAILED,
        error=message,
        progress={"stage": "finished", "message": message},
        **_model_fields(folder),
    )
    return store_mod.FAILED


def _model_fields(folder: Path) -> dict:
    model = folder / "model.keras"
    if not model.exists():
        return {}
    return {"model_path": str(model), "model_sha256": sha256_file(model)}


def image_folders(
    store: Store, run_id: str, config: RunConfig, folder: Path
) -> tuple[str, str | None]:
    """The image folders to train on: the dataset itself, or for audio clips their log-mel
    spectrograms (rendered once, cached). Either way, a run on spectrograms saves their
    settings (audio.json) so that Predict renders an uploaded clip exactly the same way."""
    from core import audio

    if not audio.is_audio_dataset(config.dataset):
        try:  # already spectrograms (the Data page converts audio uploads itself)
            made = audio.spectrogram_report(config.dataset)
            atomic_write_text(folder / "audio.json", json.dumps(made.settings))
        except (FileNotFoundError, ValueError, TypeError):
            pass
        return config.dataset, config.val_dir
    spec = audio.SpectrogramSettings(**(config.audio or {}))
    store.update(
        run_id,
        progress={"stage": "spectrograms", "message": "turning audio clips into spectrograms"},
    )
    cache = settings.cache_dir(store.home)
    train = audio.spectrogram_dataset(config.dataset, spec, cache)
    val = audio.spectrogram_dataset(config.val_dir, spec, cache) if config.val_dir else None
    atomic_write_text(folder / "audio.json", json.dumps(dataclasses.asdict(spec)))
    config.augment_kind = "spectrogram"  # masking, never rotation, for spectrograms
    return str(train), str(val) if val else None


def _prepare(
    store: Store, run_id: str, config: RunConfig, folder: Path, resume: bool = False
) -> Context:
    images, val_images = image_folders(store, run_id, config, folder)
    store.update(run_id, progress={"stage": "scanning", "message": "reading the dataset"})
    scan = datasets.scan(images, val_images)
    if not scan.ok:
        raise DatasetError("; ".join(scan.errors))
    saved = folder / "manifest.json"
    manifest = json.loads(saved.read_text()) if resume and saved.exists() else config.manifest
    split = (
        datasets.split_from_manifest(scan, manifest)
        if manifest
        else datasets.split(scan, config.val_fraction, config.seed)
    )
    if not split.train or not split.validation:
        raise DatasetError("the split left no training or no validation image")
    atomic_write_text(folder / "manifest.json", json.dumps(split.manifest(), indent=1))
    atomic_write_text(folder / "config.json", json.dumps(config.to_dict(), indent=1))
    atomic_write_text(folder / "labels.json", json.dumps(split.classes))
    weights = config.weights_for_run().checked()
    cache = features.FeatureCache(settings.cache_dir(store.home))
    _seed_everything(config.seed)
    return Context(store, run_id, config, folder, split, scan, weights, cache)


def _seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)


# -- features ---------------------------------------------------------------------------------
def _features(
    ctx: Context, base, outputs: list[features.Output], stoppable: bool = True
) -> features.FeatureTable:
    total = len({i.sha256 for i in ctx.scan.items})

    def report(done: int, of: int) -> None:
        ctx.progress("extracting", f"VGG16 features: {done}/{of} images", step=done, steps=of)

    ctx.progress("extracting", f"VGG16 features for {total} images (cached after this run)")
    failures: list = []
    table = features.extract(
        base,
        ctx.scan.items,
        outputs,
        ctx.cache_key(),
        ctx.cache,
        ctx.config.batch_size,
        report,
        ctx.should_stop if stoppable else None,
        failures,
    )
    if failures:
        log.warning("%d file(s) failed to decode during extraction", len(failures))
    return table


# -- the linear probe and the linear strategy ---------------------------------------------------
def _build_base(ctx: Context):
    from core.backbone import build_vgg16

    return build_vgg16(ctx.config.image_size, ctx.weights, ctx.config.seed)


def _run_probe(ctx: Context, resume: bool = False) -> tuple[dict, str]:
    base = _build_base(ctx)
    table = _features(ctx, base, [(layer, "gap") for layer in vgg16.FEATURE_LAYERS])
    accuracies = {}
    for layer in vgg16.FEATURE_LAYERS:
        fit = advisor.fit_linear(
            table.rows((layer, "gap"), ctx.split.train),
            ctx.split.labels(TRAIN),
            table.rows((layer, "gap"), ctx.split.validation),
            ctx.split.labels(VALIDATION),
            ctx.num_classes,
        )
        accuracies[layer] = fit.val_accuracy
    advice = advisor.advise(ctx.scan.images_per_class(), accuracies)
    return {
        "probe": accuracies,
        "advice": advice.to_dict(),
        "weights": ctx.weights.label,
        "images_per_class": ctx.scan.images_per_class(),
    }, store_mod.DONE


def _run_linear(ctx: Context, base) -> tuple[dict, str]:
    from core.models import linear_image_model

    layer = ctx.config.layer
    start = time.time()
    table = _features(ctx, base, [(layer, "gap")])
    ctx.progress(
        "training",
        f"fitting a logistic regression on {layer} features",
        phase="fit",
        phase_index=0,
        phases=1,
        epoch=1,
        epochs=1,
    )
    fit = advisor.fit_linear(
        table.rows((layer, "gap"), ctx.split.train),
        ctx.split.labels(TRAIN),
        table.rows((layer, "gap"), ctx.split.validation),
        ctx.split.labels(VALIDATION),
        ctx.num_classes,
        balanced=_is_imbalanced(ctx.split),
        seed=ctx.config.seed,
    )
    ctx.store.add_metric(
        ctx.run_id,
        "epoch",
        "fit",
        1,
        1,
        {
            "accuracy": fit.train_accuracy,
            "loss": fit.train_loss,
            "val_accuracy": fit.val_accuracy,
            "val_loss": fit.val_loss,
            "seconds": time.time() - start,
        },
    )
    model = linear_image_model(base, layer, fit.coef, fit.intercept, fit.mean, fit.scale)
    return _finish(ctx, model, fit.val_probabilities, {"epochs_run": 1}), store_mod.DONE


# -- dense-head strategies --------------------------------------------------------------------
def _is_imbalanced(split: Split) -> bool:
    counts = np.bincount(split.labels(TRAIN), minlength=len(split.classes))
    counts = counts[counts > 0]
    return counts.max() / counts.min() >= CLASS_WEIGHT_RATIO


def _class_weight(split: Split) -> dict[int, float] | None:
    from sklearn.utils.class_weight import compute_class_weight

    if not _is_imbalanced(split):
        return None
    y = split.labels(TRAIN)
    present = np.unique(y)
    weights = compute_class_weight("balanced", classes=present, y=y)
    return {int(c): float(w) for c, w in zip(present, weights, strict=True)}


def _phase_plan(ctx: Context) -> list[tuple[strategies.Phase, int, int]]:
    """(phase, unfrozen blocks, epochs) for each phase of the run's strategy."""
    spec = ctx.config.strategy_spec
    return [
        (p, p.blocks(ctx.config.unfreeze_blocks), getattr(ctx.config, p.epochs_setting))
        for p in spec.phases
    ]


class _ResumeState:
    """After every finished epoch (and at the end of each phase): the weights so far and where
    training stands, so a killed worker's run continues from its last finished epoch. Each
    save writes a new weights file, then state.json naming it (both atomic): whenever the
    worker dies, state.json and the weights it names belong together."""

    def __init__(self, folder: Path):
        self.folder = folder / "resume"
        self.state_path = self.folder / "state.json"

    @property
    def weights_path(self) -> Path:
        return self.folder / self.load()["weights"]

    def save(self, model, phase_index: int, epochs_done: int, global_epochs: int) -> None:
        name = f"phase{phase_index}-epoch{epochs_done}-{global_epochs}.weights.h5"
        write_atomically(
            self.folder / name,
            lambda tmp: model.save_weights(tmp, overwrite=True),
            suffix=".weights.h5",
        )
        atomic_write_text(
            self.state_path,
            json.dumps(
                {
                    "phase_index": phase_index,
                    "epochs_done": epochs_done,
                    "global_epochs": global_epochs,
                    "weights": name,
                }
            ),
        )
        for old in self.folder.glob("phase*.weights.h5"):  # only the named one is needed now
            if old.name != name:
                old.unlink(missing_ok=True)

    def load(self) -> dict | None:
        if not self.state_path.exists():
            return None
        state = json.loads(self.state_path.read_text())
        return state if (self.folder / state.get("weights", "")).is_file() else None

    def restore(self, model, fallback: list) -> None:
        """The last finished epoch's weights, else `fallback` (weights before training)."""
        if self.load():
            model.load_weights(self.weights_path)
        else:
            model.set_weights(fallback)


def _run_training(ctx: Context, resume: bool = False) -> tuple[dict, str]:
    from core import models

    base = _build_base(ctx)
    if ctx.config.strategy_spec.closed_form:
        return _run_linear(ctx, base)

    head = models.dense_head(ctx.num_classes, ctx.config.seed)
    bottleneck = _features(ctx, base, [(vgg16.BOTTLENECK_LAYER, "map")])
    models.adapt_head(head, bottleneck.rows((vgg16.BOTTLENECK_LAYER, "map"), ctx.split.train))
    inference = models.image_model(base, head)  # the model that is saved, never augmented
    initial_weights = inference.get_weights()
    plan = _phase_plan(ctx)
    state = _ResumeState(ctx.folder)
    start = {"phase_index": 0, "epochs_done": 0, "global_epochs": 0}
    if resume and (saved := state.load()):
        inference.load_weights(state.weights_path)
        start = saved
    total_epochs = sum(epochs for *_, epochs in plan)
    started = time.time()
    status, done, deepest = store_mod.DONE, start["global_epochs"], 0
    for index, (phase, blocks, epochs) in enumerate(plan):
        deepest = max(deepest, blocks)
        if index < start["phase_index"]:
            continue
        first = start["epochs_done"] if index == start["phase_index"] else 0
        finished, outcome = _train_phase(
            ctx,
            base,
            head,
            inference,
            index,
            phase,
            blocks,
            epochs,
            first,
            done - first,
            total_epochs,
            state,
        )
        done += finished
        if outcome is not None:
            state.restore(inference, initial_weights)  # never keep a partial epoch's weights
            status = store_mod.STOPPED if outcome == "stopped" else store_mod.DIVERGED
            break
        state.save(inference, index + 1, 0, done)  # the phase's best weights, phase complete
    if status == store_mod.STOPPED and done == 0:
        return {"note": "stopped before any epoch finished: no model was saved"}, status
    probabilities = _predict_validation(ctx, base, head, inference, deepest)
    extra = {"epochs_run": done, "train_seconds": time.time() - started}
    if status == store_mod.DIVERGED:
        extra["note"] = (
            "the loss became NaN: training stopped and the last good weights were "
            "kept; try a lower learning rate"
        )
    return _finish(ctx, inference, probabilities, extra), status


def _train_phase(
    ctx: Context,
    base,
    head,
    inference,
    index: int,
    phase: strategies.Phase,
    blocks: int,
    epochs: int,
    first_epoch: int,
    epoch_offset: int,
    total_epochs: int,
    state: _ResumeState,
) -> tuple[int, str | None]:
    """Train one phase from `first_epoch` (resume); returns (epochs finished in this call,
    None | "stopped" | "diverged")."""
    import keras

    from core import models
    from core.callbacks import FitInterrupted, ReportToStore

    cfg = ctx.config
    models.set_trainable(base, blocks)
    cut = None if cfg.augment else vgg16.frozen_cut_layer(blocks)
    if cut is not None:
        try:
            table = _features(ctx, base, [(cut, "map")])
        except ExtractionStopped:
            return 0, "stopped"
        model = models.top_model(base, cut, head)
        x_train = table.rows((cut, "map"), ctx.split.train)
        x_val = table.rows((cut, "map"), ctx.split.validation)
    else:
        augment = models.image_augmentation(cfg.augment_kind, cfg.seed) if cfg.augment else None
        model = models.image_model(base, head, augment=augment, name=f"train_{phase.name}")
    y_train, y_val = _targets(ctx, TRAIN), _targets(ctx, VALIDATION)
    learning_rate = cfg.learning_rates.get(phase.name, phase.learning_rate)
    model.compile(
        optimizer=models.optimizer(phase.optimizer, learning_rate, phase.momentum),
        loss=models.loss_for(ctx.num_classes),
        metrics=["accuracy"],
        jit_compile=device.current_plan().jit_compile,
    )
    steps = math.ceil(len(ctx.split.train) / cfg.batch_size)
    best_path = ctx.folder / "checkpoints" / f"best-{phase.name}.weights.h5"
    best_path.parent.mkdir(parents=True, exist_ok=True)
    reporter = ReportToStore(
        ctx.store,
        ctx.run_id,
        phase.name,
        index,
        len(cfg.strategy_spec.phases),
        epoch_offset,
        total_epochs,
        steps,
        on_epoch_saved=lambda done: state.save(inference, index, done, epoch_offset + done),
    )
    callbacks = [
        reporter,
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.ModelCheckpoint(
            str(best_path), monitor="val_loss", save_best_only=True, save_weights_only=True
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, min_lr=1e-7, patience=cfg.reduce_lr_patience
        ),
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=cfg.early_stopping_patience, restore_best_weights=True
        ),
    ]
    ctx.progress(
        "training",
        f"phase {index + 1}: {phase.name}",
        phase=phase.name,
        phase_index=index,
        epoch=epoch_offset + first_epoch + 1,
        epochs=total_epochs,
        step=0,
        steps=steps,
    )
    fit = dict(
        epochs=epochs,
        initial_epoch=first_epoch,
        callbacks=callbacks,
        verbose=0,
        class_weight=_class_weight(ctx.split),
    )
    try:
        if cut is not None:
            model.fit(
                x_train,
                y_train,
                validation_data=(x_val, y_val),
                batch_size=cfg.batch_size,
                shuffle=True,
                **fit,
            )
        else:
            train_data = features.image_dataset(
                _paths(ctx.split.train),
                cfg.image_size,
                cfg.batch_size,
                y_train,
                shuffle_seed=cfg.seed,
            )
            val_data = features.image_dataset(
                _paths(ctx.split.validation), cfg.image_size, cfg.batch_size, y_val
            )
            model.fit(train_data, validation_data=val_data, shuffle=False, **fit)
    except FitInterrupted as interrupted:
        return reporter.epochs_finished, interrupted.reason
    return reporter.epochs_finished, None


def _paths(items: list[Item]) -> list[str]:
    return [str(i.path) for i in items]


def _targets(ctx: Context, split: str) -> np.ndarray:
    y = ctx.split.labels(split)
    return y.astype("float32").reshape(-1, 1) if ctx.num_classes == 2 else y


def _predict_validation(ctx: Context, base, head, inference, deepest: int) -> np.ndarray:
    """Validation probabilities from the trained weights. `deepest` is the most blocks any
    phase that ran unfroze: the cached features used are those of the last layer below them
    (still the pretrained one). Scoring always finishes, also after a stop request."""
    from core import models

    ctx.progress("evaluating", "scoring the validation images")
    cut = vgg16.frozen_cut_layer(deepest)
    if cut is not None:
        table = _features(ctx, base, [(cut, "map")], stoppable=False)
        top = models.top_model(base, cut, head)
        raw = top.predict(
            table.rows((cut, "map"), ctx.split.validation),
            batch_size=ctx.config.batch_size,
            verbose=0,
        )
    else:
        data = features.image_dataset(
            _paths(ctx.split.validation), ctx.config.image_size, ctx.config.batch_size
        )
        raw = inference.predict(data, verbose=0)
    return class_probabilities(raw)


# -- results and artifacts --------------------------------------------------------------------
def evaluation(y_true: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, log loss, per-class precision/recall/F1/support and the confusion matrix."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = list(range(len(classes)))
    predicted = probabilities.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, predicted, labels=labels, zero_division=0
    )
    return {
        "val_accuracy": float(accuracy_score(y_true, predicted)),
        "val_loss": log_loss(y_true, probabilities, len(classes)),
        "per_class": [
            {
                "class": c,
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
            }
            for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
        ],
        "confusion_matrix": confusion_matrix(y_true, predicted, labels=labels).tolist(),
    }


def most_wrong(
    items: list[Item],
    y_true: np.ndarray,
    probabilities: np.ndarray,
    classes: list[str],
    limit: int = MOST_WRONG,
) -> list[dict]:
    """Misclassified validation images, most confidently wrong first."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    order = wrong[np.argsort(probabilities[wrong, y_true[wrong]])][:limit]
    return [
        {
            "file": str(items[k].path),
            "true": classes[y_true[k]],
            "predicted": classes[predicted[k]],
            "confidence": float(probabilities[k, predicted[k]]),
            "true_probability": float(probabilities[k, y_true[k]]),
        }
        for k in order
    ]


def save_model_atomically(model, path: Path) -> None:
    write_atomically(path, model.save, suffix=".keras")  # Keras wants the .keras suffix


def _finish(ctx: Context, model, probabilities: np.ndarray, extra: dict) -> dict:
    ctx.progress("saving", "saving the model")
    y_val = ctx.split.labels(VALIDATION)
    result = evaluation(y_val, probabilities, ctx.split.classes)
    result.update(extra)
    result.setdefault("train_seconds", None)
    result.update(
        {
            "strategy": ctx.config.strategy,
            "classes": ctx.split.classes,
            "train_images": len(ctx.split.train),
            "validation_images": len(ctx.split.validation),
            "weights": ctx.weights.label,
            "pretrained": ctx.weights.pretrained,
            "class_weights": _class_weight(ctx.split),
            "most_wrong": most_wrong(ctx.split.validation, y_val, probabilities, ctx.split.classes),
            "feature_cache": {"hits": ctx.cache.hits, "misses": ctx.cache.misses},
        }
    )
    save_model_atomically(model, ctx.folder / "model.keras")
    atomic_write_text(ctx.folder / "result.json", json.dumps(result, indent=1))
    return result
