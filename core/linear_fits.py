"""Runs fitted in closed form on pooled VGG16 features: the advisor's linear probe (three
layers, to measure) and the `linear` strategy (one layer, saved as a Keras model)."""

from __future__ import annotations

import time

from core import advisor, balance, vgg16
from core import store as store_mod
from core.artifacts import finish
from core.datasets import TRAIN, VALIDATION
from core.extraction import extract
from core.results import ProbeResult, RunResult
from core.run_context import Context


def _fit(ctx: Context, table, layer: str, **options) -> advisor.LinearFit:
    return advisor.fit_linear(
        table.rows((layer, "gap"), ctx.split.train),
        ctx.split.labels(TRAIN),
        table.rows((layer, "gap"), ctx.split.validation),
        ctx.split.labels(VALIDATION),
        ctx.num_classes,
        **options,
    )


def run_probe(ctx: Context, base) -> tuple[ProbeResult, str]:
    table = extract(ctx, base, [(layer, "gap") for layer in vgg16.FEATURE_LAYERS])
    accuracies = {layer: _fit(ctx, table, layer).val_accuracy for layer in vgg16.FEATURE_LAYERS}
    advice = advisor.advise(ctx.scan.images_per_class(), accuracies)
    result = ProbeResult(accuracies, advice, ctx.weights.label, ctx.scan.images_per_class())
    return result, store_mod.DONE


def run_linear(ctx: Context, base) -> tuple[RunResult, str]:
    from core.models import linear_image_model

    layer = ctx.config.layer
    start = time.time()
    table = extract(ctx, base, [(layer, "gap")])
    ctx.progress(
        "training",
        f"fitting a logistic regression on {layer} features",
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
    return finish(ctx, model, fit.val_probabilities, epochs_run=1), store_mod.DONE
