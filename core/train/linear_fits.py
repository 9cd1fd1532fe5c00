"""Runs fitted in closed form on pooled VGG16 features: the advisor's linear probe (three
layers, to measure) and the `linear` strategy (one layer, saved as a Keras model)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from core.data import balance
from core.data.datasets import TRAIN, VALIDATION, Split
from core.model import vgg16
from core.runs import advisor
from core.runs import store as store_mod
from core.runs.results import ProbeResult, RunResult
from core.train.artifacts import finish
from core.train.context import Context
from core.train.extraction import extract
from core.train.features import FeatureTable


def _fit(
    ctx: Context, table: FeatureTable, layer: str, split: Split | None = None, **options: Any
) -> advisor.LinearFit:
    split = split or ctx.split
    return advisor.fit_linear(
        table.rows((layer, "gap"), split.train),
        split.labels(TRAIN),
        table.rows((layer, "gap"), split.validation),
        split.labels(VALIDATION),
        ctx.num_classes,
        **options,
    )


def run_probe(ctx: Context, base: Any) -> tuple[ProbeResult, str]:
    """The measurement, on a stratified sample of at most probe_max_per_class pictures per
    class (the advice still counts the whole dataset's size), scored by repeated stratified
    cross-validation over the whole sample: one validation side of a few dozen pictures
    moved the accuracies by a picture's worth, and a tie inside that decided the advice."""
    sample = advisor.probe_sample(ctx.split, ctx.config.probe_max_per_class, ctx.config.seed)
    items = [*sample.train, *sample.validation]
    table = extract(ctx, base, [(layer, "gap") for layer in vgg16.FEATURE_LAYERS], items=items)
    ctx.progress(
        "training",
        f"fitting a simple classifier at {len(vgg16.FEATURE_LAYERS)} depths, "
        f"{advisor.CV_FOLDS} folds x {advisor.CV_REPEATS}",
    )
    labels = np.concatenate([sample.labels(TRAIN), sample.labels(VALIDATION)])
    features = {layer: table.rows((layer, "gap"), items) for layer in vgg16.FEATURE_LAYERS}
    accuracies, noise = advisor.cross_validate(
        features, labels, ctx.num_classes, seed=ctx.config.seed, cap=ctx.config.probe_max_per_class
    )
    advice = advisor.advise(ctx.scan.images_per_class(), accuracies, noise)
    result = ProbeResult(
        accuracies,
        advice,
        ctx.weights.label,
        ctx.scan.images_per_class(),
        images_used=len(items),
        images_total=len(ctx.scan.items),
    )
    return result, store_mod.DONE


def run_linear(ctx: Context, base: Any) -> tuple[RunResult, str]:
    from core.model.models import linear_image_model

    layer = ctx.config.layer
    start = time.time()
    table = extract(ctx, base, [(layer, "gap")])
    ctx.progress(
        "training",
        f"fitting a simple classifier (logistic regression) on {layer} features",
        phase="fit",
        phase_index=0,
        phases=1,
        epoch=1,
        epochs=1,
    )
    fit = _fit(ctx, table, layer, balanced=balance.is_imbalanced(ctx.split), seed=ctx.config.seed)
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
    # the test images are scored only now, by the finished fit
    score = fit.probabilities
    assert score is not None  # fit_linear always gives its fitted classifier
    test = score(table.rows((layer, "gap"), ctx.split.test)) if ctx.split.test else None
    result = finish(ctx, model, fit.val_probabilities, epochs_run=1, test_probabilities=test)
    return result, store_mod.DONE
