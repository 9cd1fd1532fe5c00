"""`make gpu-check` (`python -m core gpu-check`): on a host with an NVIDIA GPU, a tiny run
with precision "auto" must have trained on the GPU, in the precision its compute capability
calls for (bfloat16 from 8.0, float16 on 7.x: core.model.device.gpu_precision), to a finite
loss; then the speed of VGG16 feature extraction and of a block5 fine-tuning step at 150 px,
batch 64, to compare with README's figures. Without a GPU it says so and passes.

The verdict (`judge`) and the report (`GpuCheck.text`) are pure; the run goes through the
ordinary worker in a temporary studio home, so what is checked is what users' runs record.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.model import device
from core.model.device_facts import DeviceUse
from core.platform.hostinfo import NvidiaGpu, nvidia_smi_gpus
from core.runs.store import DONE

SPEED_IMAGE_SIZE = 150
SPEED_BATCH = 64
SPEED_STEPS = 5  # timed steps after one warm-up (which traces and compiles)
# a run that exercises fine-tuning (VGG16 layers train) in seconds on a GPU (RunConfig's fields)
TINY_RUN: dict[str, Any] = dict(
    strategy="finetune",
    image_size=48,
    epochs=1,
    finetune_epochs=1,
    batch_size=8,
    weights="none",
    precision="auto",
    seed=0,
)
NO_GPU = (
    "No NVIDIA GPU here (nvidia-smi lists none): nothing to check, which is fine on a CPU host."
)


def expected_precision(gpus: list[NvidiaGpu]) -> str:
    """The compute dtype "auto" must give on these cards (the weakest decides, as it does
    when the worker plans)."""
    return device.gpu_precision(device.weakest_capability([g.compute_capability for g in gpus]))


def judge(
    status: str,
    use: DeviceUse | None,
    losses: list[float | None],
    expected: str,
) -> list[str]:
    """What is wrong with the run's record, in words (empty: it used the GPU as it should)."""
    problems = []
    if status != DONE:
        problems.append(f"the run ended {status}, not done")
    if use is None:
        problems.append("the run's record says nothing about its device")
        return problems
    if not use.on_gpu:
        problems.append(
            f"the model was placed on {', '.join(use.placed_on) or 'no device'}, not a GPU "
            "(`python -m core doctor` says why)"
        )
    if use.compute_dtype != expected:
        problems.append(f"precision {use.compute_dtype}, expected {expected} for this card")
    finite = [v for v in losses if v is not None]
    if not finite:
        problems.append("no loss was recorded")
    elif not all(math.isfinite(v) for v in finite):
        problems.append("the loss is not finite (NaN or inf)")
    return problems


@dataclass(frozen=True)
class Speed:
    extraction_images_per_s: float
    finetune_images_per_s: float
    image_size: int
    batch_size: int
    precision: str


@dataclass(frozen=True)
class GpuCheck:
    gpus: tuple[str, ...] = ()  # the driver's (empty: no GPU, nothing checked)
    expected: str = ""
    device: DeviceUse | None = None
    losses: tuple[float | None, ...] = ()
    problems: tuple[str, ...] = ()
    speed: Speed | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["passed"] = self.passed
        data["device"] = self.device.to_json() if self.device else None
        return data

    def text(self) -> str:
        if not self.gpus:
            return NO_GPU
        lines = [f"GPUs (driver): {', '.join(self.gpus)}; expected precision {self.expected}"]
        if self.device is not None:
            lines.append(f"tiny run: {self.device.summary}")
        shown = [f"{v:.4f}" for v in self.losses if v is not None]
        lines.append(f"losses: {', '.join(shown) or 'none'}")
        if self.speed is not None:
            s = self.speed
            lines.append(
                f"speed at {s.image_size} px, batch {s.batch_size}, {s.precision}: extraction "
                f"{s.extraction_images_per_s:,.0f} images/s, block5 fine-tuning "
                f"{s.finetune_images_per_s:,.0f} images/s"
            )
        lines.extend(self.notes)
        if self.problems:
            lines += ["FAILED:", *(f"- {p}" for p in self.problems)]
        else:
            lines.append("OK: the run trained on the GPU in the expected precision")
        return "\n".join(lines)


def write_tiny_dataset(folder: Path, per_class: int = 12, size: int = 48) -> Path:
    """Two classes of flat, noisy colours: learnable in an epoch, written in a blink."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, colour in (("red", (200, 40, 40)), ("blue", (40, 40, 200))):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            pixels = np.clip(rng.normal(colour, 25, (size, size, 3)), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(folder / name / f"{k:03d}.png")
    return folder


def tiny_run(home: Path) -> tuple[str, DeviceUse | None, list[float | None]]:
    """(status, device facts, losses) of a tiny fine-tuning run through the worker."""
    from core.jobs import worker
    from core.runs.config import RunConfig
    from core.runs.store import Store

    store = Store(home)
    dataset = write_tiny_dataset(home / "tiny")
    run = worker.submit(store, RunConfig(dataset=str(dataset), **TINY_RUN), start=False)
    worker.serve(home, once=True)
    done = store.get(run.id)
    result = done.training_result
    losses = [h.loss for h in store.epoch_history(run.id)]
    if result is not None:
        losses.append(result.val_loss)
    return done.status, result.device if result else None, losses


def measure_speed(
    image_size: int = SPEED_IMAGE_SIZE,
    batch_size: int = SPEED_BATCH,
    steps: int = SPEED_STEPS,
    precision: str = "auto",
) -> Speed:
    """Images per second of VGG16's forward pass to block5_pool (extraction) and of a training
    step with blocks 1-4 frozen (block5 fine-tuning), random weights, in-memory tensors."""
    import tensorflow as tf

    from core.model import models, vgg16
    from core.model.backbone import build_vgg16
    from core.model.weights import NO_WEIGHTS

    plan = device.current_plan()
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (batch_size, image_size, image_size, 3)).astype("float32")
    labels = rng.integers(0, 2, (batch_size, 1)).astype("float32")
    with device.run_precision(precision, plan) as chosen:
        base = build_vgg16(image_size, NO_WEIGHTS)
        extractor = models.feature_extractor(base, [(vgg16.BOTTLENECK_LAYER, "map")])
        forward = tf.function(lambda x: extractor(x, training=False), jit_compile=plan.jit_compile)
        models.set_trainable(base, 1)
        model = models.image_model(base, models.dense_head(2))
        model.compile(
            optimizer=models.optimizer("sgd", 1e-4, 0.9),
            loss="binary_crossentropy",
            jit_compile=plan.jit_compile,
        )

        def extract_step() -> None:
            np.asarray(forward(images))

        def train_step() -> None:
            model.train_on_batch(images, labels)

        rates = []
        for step in (extract_step, train_step):
            step()  # trace and compile outside the timing
            start = time.perf_counter()
            for _ in range(steps):
                step()
            rates.append(batch_size * steps / (time.perf_counter() - start))
    return Speed(rates[0], rates[1], image_size, batch_size, chosen)


def driver_gpus() -> list[NvidiaGpu]:
    return nvidia_smi_gpus()


def check(gpus: list[NvidiaGpu] | None = None, speed: bool = True) -> GpuCheck:
    """The whole check; no GPU listed: a pass that says there was nothing to check."""
    gpus = driver_gpus() if gpus is None else gpus
    if not gpus:
        return GpuCheck()
    expected = expected_precision(gpus)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        status, use, losses = tiny_run(Path(tmp))
    problems = judge(status, use, losses, expected)
    notes = []
    measured = None
    if speed and not problems:
        measured = measure_speed()
        notes.append(
            "README's 'On a GPU' section has figures to compare with (same size and batch)."
        )
    return GpuCheck(
        gpus=tuple(g.name for g in gpus),
        expected=expected,
        device=use,
        losses=tuple(losses),
        problems=tuple(problems),
        speed=measured,
        notes=tuple(notes),
    )
