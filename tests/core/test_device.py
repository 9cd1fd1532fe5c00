"""Device selection from fake device descriptions (no GPU needed), CPU bf16 detection from
fake /proc/cpuinfo files, the per-run precision policy and the default batch size."""

from __future__ import annotations

import pytest

from core.model import device, vgg16
from core.model.device import Gpu, plan_acceleration
from core.platform import hostinfo, settings
from core.platform.hostinfo import CpuFeatures
from core.runs.config import RunConfig

NO_BF16 = CpuFeatures("AMD EPYC", False, False, True)
AVX512_BF16 = CpuFeatures("Xeon Cooper Lake", False, True, True)
AMX = CpuFeatures("Xeon Sapphire Rapids", True, True, True)


def cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(
        "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 avx2 " + flags + "\n\n"
        "processor\t: 1\nmodel name\t: Test CPU\nflags\t\t: fpu\n"
    )
    return path


@pytest.mark.parametrize(
    ("flags", "amx", "avx512"),
    [
        ("avx512f amx_tile amx_bf16 amx_int8 avx512_bf16", True, True),
        ("avx512f avx512_bf16", False, True),
        ("avx512f avx512_vnni", False, False),
        ("", False, False),
    ],
)
def test_cpu_features_read_bf16_flags(tmp_path, flags, amx, avx512):
    found = hostinfo.cpu_features(cpuinfo(tmp_path, flags), environ={})
    assert (found.model, found.amx_bf16, found.avx512_bf16) == ("Test CPU", amx, avx512)
    assert found.bf16 == (amx or avx512)


def test_onednn_off_means_no_fast_bf16(tmp_path):
    path = cpuinfo(tmp_path, "amx_bf16 avx512_bf16")
    assert not hostinfo.cpu_features(path, environ={"TF_ENABLE_ONEDNN_OPTS": "0"}).bf16
    assert hostinfo.cpu_features(path, environ={"TF_ENABLE_ONEDNN_OPTS": "1"}).bf16


def test_unreadable_cpuinfo_means_float32(tmp_path):
    found = hostinfo.cpu_features(tmp_path / "missing", environ={})
    assert not found.bf16
    assert plan_acceleration([], found).precision == "float32"


@pytest.mark.parametrize(
    ("cpu", "precision"), [(None, "float32"), (NO_BF16, "float32"), (AVX512_BF16, "bfloat16")]
)
def test_cpu_plans(cpu, precision):
    plan = plan_acceleration([], cpu)
    assert plan.precision == precision and plan.mixed_precision == (precision != "float32")
    assert not plan.memory_growth and not plan.jit_compile and not plan.loss_scaling
    assert plan.batch_size is None  # a CPU has no memory-bound batch: the run's own stands
    assert plan.device.startswith("CPU")


def test_amx_cpu_plan_names_the_instructions():
    plan = plan_acceleration([], AMX)
    assert plan.precision == "bfloat16" and plan.device == "CPU (bfloat16)"
    assert "amx_bf16" in plan.why


@pytest.mark.parametrize(
    ("capability", "precision", "loss_scaling"),
    [
        ((9, 0), "bfloat16", False),  # Hopper
        ((8, 6), "bfloat16", False),  # Ampere consumer
        ((8, 0), "bfloat16", False),  # A100
        ((7, 5), "float16", True),  # Turing
        ((7, 0), "float16", True),  # Volta
        ((6, 1), "float32", False),  # Pascal: no tensor cores
        (None, "float32", False),  # unknown
    ],
)
def test_gpu_precision_by_compute_capability(capability, precision, loss_scaling):
    plan = plan_acceleration([Gpu("card", capability, 16384)], NO_BF16)
    assert (plan.precision, plan.loss_scaling) == (precision, loss_scaling)
    assert plan.memory_growth and plan.jit_compile
    assert precision in plan.why
    assert ("loss scaling" in plan.why) == loss_scaling


def test_a_gpu_host_ignores_the_cpu_bf16():
    assert plan_acceleration([Gpu("P100", (6, 0))], AMX).precision == "float32"


def test_the_weakest_card_decides_and_names_the_rest():
    plan = plan_acceleration([Gpu("A100", (8, 0), 81920), Gpu("V100", (7, 0), 16384)])
    assert plan.precision == "float16" and plan.device == "GPU: A100 (+1 more)"
    assert plan.batch_size == device.suggested_batch_size(
        16384, vgg16.DEFAULT_IMAGE_SIZE, "float16"
    )


def test_batch_size_grows_with_memory_and_shrinks_with_pixels_and_bytes():
    size = vgg16.DEFAULT_IMAGE_SIZE
    small, large = (device.suggested_batch_size(m, size, "float32") for m in (4096, 24576))
    assert small < large
    assert device.suggested_batch_size(16384, 224, "float32") < device.suggested_batch_size(
        16384, 112, "float32"
    )
    assert device.suggested_batch_size(16384, 224, "bfloat16") == 2 * (
        device.suggested_batch_size(16384, 224, "float32")
    )
    for memory in (512, 2048, 8192, 16384, 40960, 81920):
        batch = device.suggested_batch_size(memory, size, "float32")
        assert 8 <= batch <= 256 and batch & (batch - 1) == 0  # a power of two


def test_batch_size_fits_the_memory_it_was_given():
    batch = device.suggested_batch_size(16384, 224, "float32")
    need = batch * vgg16.activations_per_image(224) * 4 * device.TRAINING_MEMORY_FACTOR
    assert need <= 16384 * 2**20 * device.USABLE_MEMORY_SHARE
    assert batch == 32  # a 16 GB card trains VGG16 at 224 px in float32 with batch 32


def test_batch_size_without_memory_leaves_the_runs_own():
    """No memory figure, no bound: the model layer has no batch default of its own (RunConfig,
    a layer above, holds it)."""
    assert device.suggested_batch_size(None) is None
    assert "batch" not in device.plan_acceleration([Gpu("card")]).why.split("XLA, ")[1][:5]


def test_activations_per_image_counts_every_conv_and_pool_output():
    # 224 px: the textbook ~15 million numbers per image
    assert vgg16.activations_per_image(224) == 15_077_888
    assert vgg16.activations_per_image(112) * 4 == pytest.approx(
        vgg16.activations_per_image(224), rel=0.01
    )


def test_resolve_precision():
    cpu, bf16_cpu = plan_acceleration([], NO_BF16), plan_acceleration([], AMX)
    volta = plan_acceleration([Gpu("V100", (7, 0))])
    assert device.resolve_precision("auto", cpu) == "float32"
    assert device.resolve_precision("auto", bf16_cpu) == "bfloat16"
    assert device.resolve_precision("auto", volta) == "float16"
    assert device.resolve_precision("float32", bf16_cpu) == "float32"  # always available
    assert device.resolve_precision("bfloat16", cpu) == "bfloat16"  # asked for: honoured
    with pytest.raises(ValueError, match="auto, bfloat16, float32"):
        device.resolve_precision("float8", cpu)


def test_run_precision_sets_the_policy_for_one_run_and_resets_it():
    import keras

    plan = plan_acceleration([], AMX)
    with device.run_precision("auto", plan) as precision:
        assert precision == "bfloat16"
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        assert device.active_precision() == "bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(RuntimeError), device.run_precision("bfloat16", plan):
        raise RuntimeError("a run that crashed")
    assert device.active_precision() == "float32"  # reset even after a failure


def test_float16_plans_get_a_loss_scaled_optimizer():
    """Keras wraps the optimizer when the policy is mixed_float16: the plan's loss_scaling
    holds true without code of ours."""
    import keras

    plan = plan_acceleration([Gpu("T4", (7, 5))])
    with device.run_precision("auto", plan):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, dtype="float32")])
        model.compile(optimizer="sgd", loss="mse")
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    assert not isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)


def test_worker_applies_each_runs_precision(monkeypatch, tmp_path):
    """serve() wraps every run in its own precision and is back to float32 between runs."""
    from core.jobs import worker
    from core.runs import store as store_mod
    from core.runs.config import RunConfig
    from core.runs.store import Store
    from core.train import training

    seen = []

    def fake_execute(store, run_id):
        seen.append((store.get(run_id).config.precision, device.active_precision()))
        return store_mod.DONE

    monkeypatch.setattr(training, "execute", fake_execute)
    monkeypatch.setattr(device, "current_plan", lambda: plan_acceleration([], AMX))
    store = Store(tmp_path / "home")
    data = tmp_path / "data"
    data.mkdir()
    for precision in ("bfloat16", "float32", "auto"):
        worker.submit(store, RunConfig(dataset=str(data), precision=precision), start=False)
    assert worker.serve(store.home, once=True) == 3
    assert sorted(seen) == [("auto", "bfloat16"), ("bfloat16", "bfloat16"), ("float32", "float32")]
    assert device.active_precision() == "float32"


def test_memory_growth_is_set_on_every_gpu_and_refusals_are_returned():
    calls = []

    def set_growth(gpu, enabled):
        if gpu == "GPU:1":
            raise RuntimeError("Physical devices cannot be modified after being initialized")
        calls.append((gpu, enabled))

    refused = device.enable_memory_growth(["GPU:0", "GPU:1", "GPU:2"], set_growth)
    assert calls == [("GPU:0", True), ("GPU:2", True)]
    assert refused == ["GPU:1"]
    assert device.enable_memory_growth([], set_growth) == []  # CPU only: nothing to do


def test_nvidia_smi_output_is_parsed():
    text = "NVIDIA A100-SXM4-80GB, 81920, 8.0\nTesla V100-PCIE-16GB, 16384, 7.0\n\n"
    gpus = hostinfo.parse_nvidia_smi(text)
    assert gpus == [
        hostinfo.NvidiaGpu("NVIDIA A100-SXM4-80GB", 81920, (8, 0)),
        hostinfo.NvidiaGpu("Tesla V100-PCIE-16GB", 16384, (7, 0)),
    ]
    old_driver = hostinfo.parse_nvidia_smi("Tesla K80, [N/A]\n")
    assert old_driver == [hostinfo.NvidiaGpu("Tesla K80", None, None)]


def test_quick_plan_needs_no_tensorflow(monkeypatch):
    smi = [hostinfo.NvidiaGpu("NVIDIA L4", 23034, (8, 9))]
    monkeypatch.setattr(hostinfo, "nvidia_smi_gpus", lambda: smi)
    plan = device.quick_plan()
    assert (plan.device, plan.precision) == ("GPU: NVIDIA L4", "bfloat16")
    assert plan.batch_size == device.suggested_batch_size(
        23034, vgg16.DEFAULT_IMAGE_SIZE, "bfloat16"
    )
    monkeypatch.setattr(hostinfo, "nvidia_smi_gpus", lambda: [])
    assert device.quick_plan().device.startswith("CPU")


def test_planning_in_the_app_imports_no_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys; from core.model import device; from core.runs import config; "
        "device.quick_plan(); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    root = settings.PROJECT_ROOT
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


def test_hiding_the_gpus_reports_a_refusal():
    calls = []
    assert device.hide_gpus(lambda devices, kind: calls.append((devices, kind)))
    assert calls == [([], "GPU")]

    def initialised(devices, kind):
        raise RuntimeError("Visible devices cannot be modified after being initialized")

    assert not device.hide_gpus(initialised)


# -- several GPUs: MirroredStrategy selection (fake device lists, no GPU needed) ---------------
A100 = Gpu("NVIDIA A100", (8, 0), 40960)


def _run(strategy: str, **changes) -> RunConfig:
    return RunConfig(dataset="data", strategy=strategy, **changes)


def test_one_gpu_or_none_trains_as_before():
    for gpus in ([], [A100]):
        plan = device.plan_distribution(gpus, _run("finetune", batch_size=32))
        assert (plan.replicas, plan.batch_size, plan.learning_rate_scale) == (1, 32, 1.0)
        config = _run("finetune", batch_size=32)
        assert device.distributed_config(config, plan) is config


def test_several_gpus_mirror_fine_tuning_with_a_scaled_batch_and_learning_rate():
    plan = device.plan_distribution([A100] * 4, _run("finetune", batch_size=32))
    assert plan.mirrored and (plan.replicas, plan.batch_size) == (4, 128)
    assert plan.learning_rate_scale == 4.0 and "linear scaling rule" in plan.why
    config = device.distributed_config(
        _run("finetune", batch_size=32, learning_rates={"finetune": 5e-5}), plan
    )
    assert config.batch_size == 128
    assert config.learning_rates == pytest.approx({"head": 4e-3, "finetune": 2e-4})
    for strategy in ("full", "scratch"):
        assert device.plan_distribution([A100] * 2, _run(strategy)).replicas == 2


def test_runs_that_train_no_vgg16_layer_stay_on_one_gpu():
    for strategy in ("head", "linear"):
        plan = device.plan_distribution([A100] * 8, _run(strategy))
        assert plan.replicas == 1 and "trains no VGG16 layer" in plan.why


def test_the_learning_rate_finder_sweeps_on_one_device_so_its_suggestion_is_scaled_once():
    finder = _run("finetune", batch_size=32, task="lr_find")
    plan = device.plan_distribution([A100] * 4, finder)
    assert (plan.replicas, plan.batch_size, plan.learning_rate_scale) == (1, 32, 1.0)
    assert device.distributed_config(finder, plan) is finder
    suggested = {"finetune": 1e-4}  # what the finder suggests, at the run's own batch
    training = device.distributed_config(
        _run("finetune", batch_size=32, learning_rates=suggested),
        device.plan_distribution([A100] * 4, _run("finetune", batch_size=32)),
    )
    assert training.learning_rates["finetune"] == pytest.approx(4e-4)  # scaled once, by 4


def test_the_global_batch_never_exceeds_the_batch_bound():
    plan = device.plan_distribution([A100] * 8, _run("full", batch_size=256))
    assert plan.batch_size == device.MAX_GLOBAL_BATCH and plan.learning_rate_scale == 4.0


def test_one_device_needs_no_distribution_scope():
    with device.distribution_scope(device.plan_distribution([], _run("full"))) as strategy:
        assert strategy is None


def test_precision_sentence_says_what_the_setting_means_here():
    cpu, bf16_cpu = plan_acceleration([], NO_BF16), plan_acceleration([], AMX)
    ampere = plan_acceleration([Gpu("A100", (8, 0), 40_000)])
    assert device.precision_sentence("auto", cpu) == (
        "auto: float32 on this CPU (no native bfloat16)."
    )
    assert device.precision_sentence("auto", bf16_cpu).startswith("auto: bfloat16 on this CPU")
    assert "emulated" in device.precision_sentence("bfloat16", cpu)
    assert "emulated" not in device.precision_sentence("bfloat16", bf16_cpu)
    assert "slower than the bfloat16 auto picks" in device.precision_sentence("float32", ampere)
    assert device.precision_sentence("auto", ampere).startswith("auto: bfloat16 on A100")
    assert set(device.PRECISION_CHOICES) == set(device.PRECISIONS)  # a label for each choice
