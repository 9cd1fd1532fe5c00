"""Which device trains, in which precision, and how to make the most of it.

`plan_acceleration` is pure selection logic, unit-tested with fake device descriptions (no GPU
needed); `apply` performs the process-wide part once, `run_precision` the per-run part.

Precision (the compute dtype; variables and the output layer stay float32 either way):
- GPU with compute capability >= 8.0 (Ampere, Hopper, ...): bfloat16, which has float32's range
  so it needs no loss scaling, and runs on tensor cores.
- GPU with compute capability 7.x (Volta, Turing): float16 on tensor cores, with loss scaling
  (Keras wraps the optimizer in a LossScaleOptimizer when the policy is mixed_float16).
- CPU with AMX or AVX512-BF16 (and TensorFlow's oneDNN kernels on): bfloat16.
- Anything else: float32 (bfloat16 without those instructions is emulated and slower).
On a multi-GPU host the weakest card decides. XLA (jit_compile) stays on for GPUs only: it
fuses the GPU's elementwise work, while on CPU it only delays the first epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from core.model import vgg16
from core.platform.hostinfo import CpuFeatures, cpu_features

PRECISIONS = ("auto", "bfloat16", "float32")  # RunConfig.precision choices
# compute dtype -> Keras dtype policy
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
BYTES_PER_NUMBER = {"float32": 4, "bfloat16": 2, "float16": 2}
# Training keeps every activation and its gradient, plus convolution workspace: ~3x the
# activations. Only this share of the card is planned for (CUDA context, fragmentation).
TRAINING_MEMORY_FACTOR = 3
USABLE_MEMORY_SHARE = 0.6
MODEL_MEMORY_MB = 250  # VGG16 conv weights (59 MB) with gradients and two optimizer slots
BATCH_LIMITS = (8, 256)
Device = TypeVar("Device")


@dataclass(frozen=True)
class Gpu:
    name: str
    compute_capability: tuple[int, int] | None = None
    memory_mb: int | None = None


@dataclass(frozen=True)
class AccelerationPlan:
    device: str  # what the sidebar shows
    memory_growth: bool  # allocate GPU memory as needed, so several processes can share it
    precision: str  # what "auto" means here: "float32" | "bfloat16" | "float16"
    jit_compile: bool  # XLA: helps convolutions on GPU; slows the first epoch on CPU
    # batch at the default image size from device memory; None: no memory bound (a CPU, a
    # card that did not say), the run's own setting stands
    batch_size: int | None
    why: str  # one sentence: which path, and why (the benchmark prints it)

    @property
    def mixed_precision(self) -> bool:
        return self.precision != "float32"

    @property
    def loss_scaling(self) -> bool:
        """float16's narrow range needs the loss scaled; bfloat16 and float32 do not."""
        return self.precision == "float16"


def gpu_precision(compute_capability: tuple[int, int] | None) -> str:
    if compute_capability is None:
        return "float32"
    if tuple(compute_capability) >= (8, 0):
        return "bfloat16"
    if tuple(compute_capability) >= (7, 0):
        return "float16"
    return "float32"


def suggested_batch_size(
    memory_mb: int | None, image_size: int = vgg16.DEFAULT_IMAGE_SIZE, precision: str = "float32"
) -> int | None:
    """The largest power of two whose training activations fit the card's memory (clamped
    to 8..256); None without a memory figure (a CPU): the run's own batch setting stands."""
    if memory_mb is None:
        return None
    per_image = (
        vgg16.activations_per_image(image_size)
        * BYTES_PER_NUMBER[precision]
        * TRAINING_MEMORY_FACTOR
    )
    budget = memory_mb * USABLE_MEMORY_SHARE * 2**20 - MODEL_MEMORY_MB * 2**20
    fits = max(1, int(budget // per_image))
    batch: int = 2 ** (fits.bit_length() - 1)
    return max(BATCH_LIMITS[0], min(BATCH_LIMITS[1], batch))


def weakest_capability(
    capabilities: Sequence[tuple[int, int] | None],
) -> tuple[int, int] | None:
    """The compute capability that decides a multi-GPU host's precision: the weakest card's;
    None when a card did not say (it may be the weakest)."""
    known = [c for c in capabilities if c is not None]
    return min(known) if known and len(known) == len(capabilities) else None


def plan_acceleration(gpus: list[Gpu], cpu: CpuFeatures | None = None) -> AccelerationPlan:
    if not gpus:
        batch = None  # a CPU has no memory bound: the run's own batch stands
        if cpu is not None and cpu.bf16:
            why = f"CPU with {cpu.bf16_label}: bfloat16 compute (float32 heads), no XLA"
            return AccelerationPlan("CPU (bfloat16)", False, "bfloat16", False, batch, why)
        why = "CPU without bfloat16 instructions (or oneDNN off): float32, no XLA"
        return AccelerationPlan("CPU", False, "float32", False, batch, why)
    weakest = weakest_capability([g.compute_capability for g in gpus])
    precision = gpu_precision(weakest)
    memories = [g.memory_mb for g in gpus if g.memory_mb]
    memory = min(memories) if memories else None
    batch = suggested_batch_size(memory, vgg16.DEFAULT_IMAGE_SIZE, precision)
    label = gpus[0].name + (f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else "")
    cc = "unknown" if weakest is None else f"{weakest[0]}.{weakest[1]}"
    why = (
        f"GPU, compute capability {cc}: {precision}"
        + (" with loss scaling" if precision == "float16" else "")
        + ", XLA, "
        + (f"batch {batch} from {memory} MiB" if batch else "the run's batch (memory unknown)")
    )
    return AccelerationPlan(f"GPU: {label}", True, precision, True, batch, why)


def resolve_precision(requested: str, plan: AccelerationPlan) -> str:
    """A run's precision setting ("auto" | "bfloat16" | "float32") -> the compute dtype."""
    if requested == "auto":
        return plan.precision
    if requested in ("bfloat16", "float32"):
        return requested
    raise ValueError(f"unknown precision {requested!r}; choose {', '.join(PRECISIONS)}")


PRECISION_CHOICES = {  # RunConfig.precision -> what the setting means, for a page
    "auto": "auto (the fastest this machine runs well)",
    "bfloat16": "bfloat16 (half the bits: faster where the hardware has it)",
    "float32": "float32 (full precision: always works)",
}


def _where(plan: AccelerationPlan) -> str:
    return "this CPU" if plan.device.startswith("CPU") else plan.device.removeprefix("GPU: ")


def precision_sentence(requested: str, plan: AccelerationPlan) -> str:
    """One line for a page: what `requested` (a RunConfig.precision) means on this machine,
    e.g. 'auto: float32 on this CPU (no native bfloat16)'."""
    chosen = resolve_precision(requested, plan)
    where = _where(plan)
    native_bf16 = plan.precision == "bfloat16"
    if requested == "auto":
        if plan.device.startswith("CPU"):
            why = "native bfloat16" if native_bf16 else "no native bfloat16"
        else:
            why = plan.why.split(":")[0]
        return f"auto: {chosen} on {where} ({why})."
    if chosen == "bfloat16" and not native_bf16:
        return (
            f"bfloat16 on {where}: without native bfloat16 instructions it is emulated, "
            "usually slower than float32."
        )
    if chosen == "float32" and plan.precision != "float32":
        return f"float32 on {where}: works everywhere, slower than the {plan.precision} auto picks."
    return f"{chosen} on {where}."


def enable_memory_growth(
    gpus: Sequence[Device], set_growth: Callable[[Device, bool], None]
) -> list[Device]:
    """Memory growth on every GPU (set_growth is tf.config.experimental.set_memory_growth):
    the process then takes GPU memory as it needs it instead of all of it at the first use, so
    the app and the worker can share one GPU. It must run before TensorFlow initialises the GPUs;
    devices already initialised refuse (RuntimeError) and are returned."""
    refused = []
    for gpu in gpus:
        try:
            set_growth(gpu, True)
        except RuntimeError:  # already initialised: growth can no longer change
            refused.append(gpu)
    return refused


def detect_gpus() -> list[Gpu]:
    import tensorflow as tf

    from core.platform.hostinfo import nvidia_smi_gpus

    devices = tf.config.list_physical_devices("GPU")
    memory = [g.memory_mb for g in nvidia_smi_gpus()] if devices else []
    found = []
    for index, device in enumerate(devices):
        details = tf.config.experimental.get_device_details(device) or {}
        found.append(
            Gpu(
                details.get("device_name", device.name),
                details.get("compute_capability"),
                memory[index] if index < len(memory) else None,
            )
        )
    return found


def apply(plan: AccelerationPlan) -> None:
    """The process-wide part: call once per process, before any model is built."""
    import tensorflow as tf

    if plan.memory_growth:
        enable_memory_growth(
            tf.config.list_physical_devices("GPU"), tf.config.experimental.set_memory_growth
        )


@contextmanager
def dtype_policy(precision: str) -> Iterator[str]:
    """Models built inside compute in `precision` ("float32" | "bfloat16" | "float16"); the
    previous Keras policy is back afterwards, also after an error."""
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(POLICIES[precision])
    try:
        yield precision
    finally:
        keras.mixed_precision.set_global_policy(before)


@contextmanager
def run_precision(requested: str, plan: AccelerationPlan | None = None) -> Iterator[str]:
    """One run's precision setting applied (the worker starts in float32, so every run starts
    clean and the next one too). Yields the compute dtype in use."""
    with dtype_policy(resolve_precision(requested, plan or current_plan())) as precision:
        yield precision


def active_precision() -> str:
    """The compute dtype of the Keras policy now in force (part of feature cache keys)."""
    import keras

    dtype: str = keras.mixed_precision.global_policy().compute_dtype
    return dtype


def hide_gpus(set_visible_devices: Callable[[list[Any], str], None]) -> bool:
    """For the app process (it only predicts a few pictures, on the CPU): hide the GPUs from
    TensorFlow (set_visible_devices is tf.config.set_visible_devices) so this process never
    takes GPU memory the worker needs. False when TensorFlow had already initialised them."""
    try:
        set_visible_devices([], "GPU")
    except RuntimeError:
        return False
    return True


_CURRENT: AccelerationPlan | None = None


def current_plan() -> AccelerationPlan:
    """This process's plan (detected once)."""
    global _CURRENT
    if _CURRENT is None:
        _CURRENT = plan_acceleration(detect_gpus(), cpu_features())
    return _CURRENT


def quick_plan() -> AccelerationPlan:
    """The plan from nvidia-smi and /proc/cpuinfo, without TensorFlow: what a page may show
    (device, precision "auto" means, default batch size) in the app, which never imports it.
    The worker's `current_plan` asks TensorFlow itself."""
    from core.platform.hostinfo import nvidia_smi_gpus

    gpus = [Gpu(g.name, g.compute_capability, g.memory_mb) for g in nvidia_smi_gpus()]
    return plan_acceleration(gpus, cpu_features())


# -- several GPUs on one host: tf.distribute.MirroredStrategy ---------------------------------
MAX_GLOBAL_BATCH = 1024  # RunConfig's batch bound: a global batch never exceeds it


@dataclass(frozen=True)
class DistributionPlan:
    """How one run spreads over this host's GPUs. replicas 1: one device, exactly as before.

    With several GPUs each holds a copy of the model and takes the run's batch size per
    step; their gradients are averaged (all-reduce), so one step sees replicas x batch
    images. The learning-rate rule is the linear scaling rule (Goyal et al., 2017): a k
    times larger batch takes a k times larger learning rate, so an epoch moves the weights
    about as far as on one GPU, in 1/k of the steps."""

    replicas: int
    batch_size: int  # global: per-replica batch x replicas (capped at MAX_GLOBAL_BATCH)
    learning_rate_scale: float  # global batch / the run's batch
    why: str

    @property
    def mirrored(self) -> bool:
        return self.replicas > 1


def trains_vgg16_layers(config: Any) -> bool:  # a RunConfig (core.runs is a higher layer)
    """Whether some phase of the run trains VGG16's own layers (fine-tuning, full training,
    from scratch): the work worth spreading over GPUs. A head on cached features or a
    closed-form fit is too small a step for the all-reduce to pay."""
    spec = config.strategy_spec
    return not spec.closed_form and any(p.blocks(config.unfreeze_blocks) > 0 for p in spec.phases)


def plan_distribution(gpus: Sequence[Gpu], config: Any) -> DistributionPlan:
    """MirroredStrategy over every visible GPU when there are several and the run trains VGG16
    layers; otherwise one device (no GPU or one GPU: as before; the learning-rate finder)."""
    batch = config.batch_size
    if len(gpus) < 2:
        return DistributionPlan(1, batch, 1.0, f"{len(gpus) or 'no'} GPU: one device")
    if config.task_spec.one_device:  # the learning-rate finder (core.runs.tasks says why)
        return DistributionPlan(
            1, batch, 1.0, f"{len(gpus)} GPUs, but the learning-rate finder sweeps on one"
        )
    if not trains_vgg16_layers(config):
        return DistributionPlan(
            1, batch, 1.0, f"{len(gpus)} GPUs, but a {config.strategy} run trains no VGG16 layer"
        )
    replicas = len(gpus)
    global_batch = min(batch * replicas, MAX_GLOBAL_BATCH)
    scale = global_batch / batch
    why = (
        f"{replicas} GPUs: MirroredStrategy, batch {batch} per GPU = {global_batch} per step, "
        f"learning rates x{scale:g} (linear scaling rule)"
    )
    return DistributionPlan(replicas, global_batch, scale, why)


def distributed_config(config: Any, plan: DistributionPlan) -> Any:
    """The settings a run trains with under `plan`: the global batch, and every phase's
    learning rate (the run's override, else the strategy table's) scaled by the rule. The
    run's saved settings stay the user's (a bundle reproduces on any number of GPUs)."""
    import dataclasses

    if not plan.mirrored:
        return config
    rates = {
        p.name: config.learning_rates.get(p.name, p.learning_rate) * plan.learning_rate_scale
        for p in config.strategy_spec.phases
        if not p.closed_form
    }
    return dataclasses.replace(config, batch_size=plan.batch_size, learning_rates=rates)


@contextmanager
def distribution_scope(plan: DistributionPlan) -> Iterator[object | None]:
    """Models built and compiled inside are mirrored over every GPU when the plan says so;
    otherwise nothing changes (yields None)."""
    if not plan.mirrored:
        yield None
        return
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy()
    with strategy.scope():
        yield strategy
