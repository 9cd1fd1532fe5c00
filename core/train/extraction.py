"""A run's VGG16 base, its feature extraction (reported as progress and stoppable) and its
images, decoded once into the decoded-image cache."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from core.data.datasets import Item
from core.runs import speed
from core.train import decoded_cache, features
from core.train.context import Context

if TYPE_CHECKING:  # imports Keras
    from core.train.batches import ArrayRows

log = logging.getLogger(__name__)


def build_base(ctx: Context) -> Any:  # a Keras model
    """The run's VGG16 conv base (its weights, image size and seed)."""
    from core.model import device, device_facts
    from core.model.backbone import build_vgg16

    base = build_vgg16(ctx.config.image_size, ctx.weights, ctx.config.seed)
    # where TensorFlow really put it, in the precision in force: the run's record of its device
    xla = device.current_plan().jit_compile and not ctx.config.strategy_spec.closed_form
    ctx.device_use = device_facts.measure_use(base, xla, ctx.replicas)
    return base


def extract(
    ctx: Context,
    base: Any,
    outputs: list[features.Output],
    stoppable: bool = True,
    items: Sequence[Item] | None = None,
) -> features.FeatureTable:
    """Features at `outputs` of every image of the run's dataset, or of `items` (a sample of
    it), cached by content. A stop request ends a stoppable extraction with ExtractionStopped.
    A computed (not cached) extraction records the machine's speed for later estimates."""
    items = ctx.scan.items if items is None else items
    total = len({i.sha256 for i in items})
    key = ctx.cache_key()
    if items is not ctx.scan.items:  # a sample is cached under its own content
        sample = dataclasses.replace(ctx.scan, items=list(items), excluded=[]).fingerprint()
        key = dataclasses.replace(key, images=sample)

    def report(done: int, of: int) -> None:
        elapsed = time.perf_counter() - started
        left = elapsed / done * (of - done) if 0 < done < of else None
        eta = f", {speed.describe_seconds(left)} left" if left is not None else ""
        ctx.progress("extracting", f"VGG16 features: {done}/{of} images{eta}", step=done, steps=of)

    ctx.progress("extracting", f"VGG16 features for {total} images (cached after this run)")
    misses, started = ctx.cache.misses, time.perf_counter()
    failures: list[tuple[str, str]] = []
    table = features.extract(
        base,
        items,
        outputs,
        key,
        ctx.cache,
        ctx.config.batch_size,
        report,
        ctx.should_stop if stoppable else None,
        failures,
    )
    if failures:
        log.warning("%d file(s) failed to decode during extraction", len(failures))
    elif ctx.cache.misses > misses:  # computed, not loaded: feeds the time estimates
        took = time.perf_counter() - started
        speed.record(ctx.store.home, total, took, key.image_size, key.precision, ctx.config.task)
    return table


def image_batches(
    ctx: Context,
    items: list[Item],
    labels: np.ndarray | None = None,
    shuffle_seed: int | None = None,
) -> ArrayRows:
    """`items`' images as Keras batches, from the decoded-image cache of the whole dataset
    (decoded once, on the first call; training and validation share one file)."""
    cfg = ctx.config

    def report(done: int, of: int) -> None:
        ctx.progress("decoding", f"decoding images once: {done}/{of}", step=done, steps=of)

    return decoded_cache.image_batches(
        items,
        cfg.image_size,
        cfg.batch_size,
        ctx.cache.root,
        labels,
        shuffle_seed,
        dataset=ctx.scan.items,
        progress=report,
    )
