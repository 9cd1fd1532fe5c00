"""What a run needs (memory, disk) against what the machine has, checked before it is queued.

The estimates come from VGG16's shape (core.model.vgg16) and the run's settings, in pure functions
that take the free memory and disk as numbers, so they are unit-tested with made-up machines;
`free_memory`, `free_disk` and `count_files` read the real ones. They are rough on purpose
(float32, every activation of a batch kept): their job is to refuse a run that cannot fit, with
settings that do, before a worker dies trying (a huge batch used to segfault it).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from core.model import vgg16
from core.platform import hostinfo, settings
from core.platform.fileio import folder_bytes
from core.runs import tasks
from core.runs.config import RunConfig

FLOAT_BYTES = 4
TRAIN_FACTOR = 3  # activations kept for backpropagation, plus their gradients
OPTIMIZER_COPIES = 3  # a trained weight's gradient and up to two optimizer moments
HEAD_UNITS = 256  # models.dense_head's hidden layer
USABLE_FRACTION = 0.9  # of the free memory or disk: TensorFlow and the system need some too
MB = 1_000_000


@dataclass(frozen=True)
class MemoryNeed:
    """Bytes one run needs at its peak: `device` on the GPU (or in RAM without one), `host`
    always in RAM (the cached feature tables)."""

    device: int
    host: int

    @property
    def total(self) -> int:
        return self.device + self.host


# -- VGG16's shape ------------------------------------------------------------------------------
def _block_activation_floats(image_size: int) -> list[int]:
    """Floats of one image's activations inside each block (its convs and its pooling)."""
    out, size = [], image_size
    for block in vgg16.BLOCKS:
        convs = block.convs * size * size * block.filters
        size //= 2
        out.append(convs + size * size * block.filters)
    return out


def _block_params(block: vgg16.Block, channels_in: int) -> int:
    params = 0
    for _ in range(block.convs):
        params += 9 * channels_in * block.filters + block.filters
        channels_in = block.filters
    return params


def _params_per_block() -> list[int]:
    channels = [3] + [b.filters for b in vgg16.BLOCKS[:-1]]
    return [_block_params(b, c) for b, c in zip(vgg16.BLOCKS, channels, strict=True)]


def _head_params(image_size: int) -> int:
    flat = vgg16.pool_output_size(image_size, len(vgg16.BLOCKS)) ** 2 * vgg16.BLOCKS[-1].filters
    return flat * HEAD_UNITS + HEAD_UNITS


def _pool_floats(layer: str, image_size: int) -> int:
    block = vgg16.block_of(layer)
    return vgg16.pool_output_size(image_size, block) ** 2 * vgg16.BLOCKS[block - 1].filters


def _trained_blocks(config: RunConfig) -> int:
    """The most VGG16 blocks any phase of the run trains (0: only a head)."""
    if config.task == tasks.PROBE:
        return 0
    return max(p.blocks(config.unfreeze_blocks) for p in config.strategy_spec.phases)


def _cached_floats(config: RunConfig) -> int:
    """Floats per image of the cached features (held in memory too): pooled to one number per
    channel for the probe and the linear strategy, whole maps of the frozen cut otherwise."""
    if config.task == tasks.PROBE or config.strategy_spec.head == "logistic":
        return sum(
            vgg16.BLOCKS[vgg16.block_of(layer) - 1].filters for layer in vgg16.FEATURE_LAYERS
        )
    cuts = {vgg16.BOTTLENECK_LAYER}
    if not config.augment:
        for phase in config.strategy_spec.phases:
            cut = vgg16.frozen_cut_layer(phase.blocks(config.unfreeze_blocks))
            cuts |= {cut} if cut else set()
    return sum(_pool_floats(layer, config.image_size) for layer in cuts)


# -- memory -------------------------------------------------------------------------------------
def memory_need(config: RunConfig, images: int) -> MemoryNeed:
    """Peak bytes: a batch's activations (kept for training where images pass through trained
    or augmented layers, else one forward pass) + the model and optimizer state + features."""
    size, batch = config.image_size, config.batch_size
    per_block = _block_activation_floats(size)
    forward = 3 * size * size + sum(per_block)
    trained = _trained_blocks(config)
    if config.augment or trained == len(vgg16.BLOCKS):
        per_image = forward * TRAIN_FACTOR
    else:  # the trained blocks run on cached features of the frozen ones
        per_image = max(forward, sum(per_block[len(per_block) - trained :]) * TRAIN_FACTOR)
    params = _params_per_block()
    trainable = sum(params[len(params) - trained :]) + _head_params(size)
    model = (sum(params) + _head_params(size) + trainable * OPTIMIZER_COPIES) * FLOAT_BYTES
    features = images * _cached_floats(config) * FLOAT_BYTES
    return MemoryNeed(per_image * batch * FLOAT_BYTES + model, features)


def _fits(config: RunConfig, images: int, ram: int, gpu: int | None) -> bool:
    need = memory_need(config, images)
    if gpu is None:
        return need.total <= ram * USABLE_FRACTION
    return need.device <= gpu * USABLE_FRACTION and need.host <= ram * USABLE_FRACTION


def _largest_batch(config: RunConfig, images: int, ram: int, gpu: int | None) -> int | None:
    for batch in range(config.batch_size - 1, 0, -1):
        if _fits(dataclasses.replace(config, batch_size=batch), images, ram, gpu):
            return batch
    return None


def _largest_image_size(config: RunConfig, images: int, ram: int, gpu: int | None) -> int | None:
    """The largest smaller size that fits, a multiple of 8 (or VGG16's minimum)."""
    for size in range(config.image_size - 1, vgg16.MIN_IMAGE_SIZE - 1, -1):
        if size % 8 and size != vgg16.MIN_IMAGE_SIZE:
            continue
        if _fits(dataclasses.replace(config, image_size=size), images, ram, gpu):
            return size
    return None


def advice(batch: int | None, image_size: int | None) -> str:
    """'lower the batch size to N or the image size to M' (or what is left when one is None)."""
    options = []
    if batch is not None:
        options.append(f"the batch size to {batch}")
    if image_size is not None:
        options.append(f"the image size to {image_size}")
    if not options:
        return (
            f"it does not fit even with a batch of 1 at {vgg16.MIN_IMAGE_SIZE} px: close other "
            "programs or use a machine with more memory"
        )
    return "lower " + " or ".join(options)


def memory_problem(
    config: RunConfig, images: int, ram_free: int, gpu_free: int | None = None
) -> str | None:
    """None when the run fits the free memory (GPU memory for the network when there is a
    GPU, RAM for the rest), else a sentence with settings that fit."""
    if _fits(config, images, ram_free, gpu_free):
        return None
    need = memory_need(config, images)
    if gpu_free is not None and need.device > gpu_free * USABLE_FRACTION:
        amount, free, kind = need.device, gpu_free, "GPU memory"
    else:
        amount, free, kind = need.total if gpu_free is None else need.host, ram_free, "memory"
    hint = advice(
        _largest_batch(config, images, ram_free, gpu_free),
        _largest_image_size(config, images, ram_free, gpu_free),
    )
    return (
        f"this run needs about {amount // MB:,} MB of {kind} and {free // MB:,} MB is free: {hint}"
    )


def out_of_memory_advice(config: RunConfig) -> str:
    """For a run that ran out of memory anyway: half the batch, or ~half the pixels."""
    batch = config.batch_size // 2 if config.batch_size > 1 else None
    smaller = int(config.image_size / 2**0.5) // 8 * 8
    size = max(smaller, vgg16.MIN_IMAGE_SIZE) if config.image_size > vgg16.MIN_IMAGE_SIZE else None
    return "out of memory: " + advice(batch, size)


# -- disk ---------------------------------------------------------------------------------------
def disk_need(config: RunConfig, images: int) -> int:
    """Bytes a run writes: the model, the resume weights (two while one replaces the other),
    a best checkpoint per phase, and the feature cache."""
    weights = (sum(_params_per_block()) + _head_params(config.image_size)) * FLOAT_BYTES
    phases = 0 if config.task == tasks.PROBE else len(config.strategy_spec.phases)
    return weights * (phases + 3) + images * _cached_floats(config) * FLOAT_BYTES


def disk_problem(config: RunConfig, images: int, free: int, where: Path) -> str | None:
    need = disk_need(config, images)
    if need <= free * USABLE_FRACTION:
        return None
    return (
        f"not enough disk space: this run needs about {need // MB:,} MB in {where} and "
        f"{free // MB:,} MB is free; free some space or move the studio's home (STUDIO_HOME)"
    )


def disk_full_message(config: RunConfig, images: int, where: Path) -> str:
    return f"disk full (needs about {max(disk_need(config, images) // MB, 1):,} MB in {where})"


# -- the machine --------------------------------------------------------------------------------
def free_ram() -> int:
    """Bytes of RAM available to a new process (MemAvailable; the free pages elsewhere)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def free_gpu_memory() -> int | None:
    """Free bytes on the first NVIDIA GPU, or None without one (no TensorFlow needed)."""
    if not hostinfo.nvidia_gpus() or shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return int(out.stdout.split()[0]) * 1024 * 1024
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def count_files(*folders: str | None) -> int:
    """Files below the folders, hidden ones and links to folders left out: the images a run
    will read (a little more when there are other files: the estimates stay on the safe side)."""
    total = 0
    for folder in folders:
        if not folder:
            continue
        for _, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            total += sum(1 for f in filenames if not f.startswith("."))
    return total


def run_problem(config: RunConfig, home: Path) -> str | None:
    """Why this run cannot start on this machine now (memory or disk), or None."""
    images = count_files(config.dataset, config.val_dir)
    problem = memory_problem(config, images, free_ram(), free_gpu_memory())
    if problem is None:
        problem = disk_problem(config, images, shutil.disk_usage(home).free, home)
        if problem is not None:
            problem += cache_hint(home)
    return problem


def cache_hint(home: Path) -> str:
    """What the studio's prunable caches (features, decoded images) hold, when they hold
    something: training never prunes them, and `core cache prune` frees them."""
    cache = settings.cache_dir(home)
    cached = sum(
        folder_bytes(cache / name) for name in (settings.FEATURES_CACHE, settings.DECODED_CACHE)
    )
    if cached < MB:
        return ""
    return (
        f"; the studio's caches hold {cached // MB:,} MB of it: "
        "`python -m core cache prune` frees them (they are rebuilt when needed)"
    )
