"""A run's VGG16 base and its feature extraction, reported as progress and stoppable."""

from __future__ import annotations

import logging

from core import features
from core.run_context import Context

log = logging.getLogger(__name__)


def build_base(ctx: Context):
    """The run's VGG16 conv base (its weights, image size and seed)."""
    from core.backbone import build_vgg16

    return build_vgg16(ctx.config.image_size, ctx.weights, ctx.config.seed)


def extract(
    ctx: Context, base, outputs: list[features.Output], stoppable: bool = True
) -> features.FeatureTable:
    """Features of every image of the run's dataset at `outputs` (cached by content). A stop
    request ends a stoppable extraction with ExtractionStopped."""
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
