"""`core doctor` and `core cache prune` (core.jobs.doctor, core.cli.doctor): the facts of
this machine with TensorFlow's view given (no child process), and the commands' output."""

from __future__ import annotations

import json

import pytest
from synthetic import write_vgg16_shaped_h5

from core import cli
from core.jobs import doctor
from core.model import device_facts
from core.model.device_facts import TensorflowView
from core.platform import hostinfo, settings

VIEW = TensorflowView(
    gpus=(),
    device="CPU",
    precision="float32",
    why="CPU without bfloat16 instructions (or oneDNN off): float32, no XLA",
    cuda_version="12.5.1",
    cudnn_version="9",
)


@pytest.fixture
def cpu_host(monkeypatch):
    monkeypatch.setattr(hostinfo, "nvidia_gpus", lambda *a: [])
    monkeypatch.setattr(device_facts, "probe_view", lambda: VIEW)


def test_the_facts_say_versions_devices_precision_weights_and_disk(cpu_host, home, monkeypatch):
    monkeypatch.setenv(settings.WEIGHTS_ENV, "none")
    (home / "cache" / "features" / "a" / "w" / "48px").mkdir(parents=True)
    (home / "cache" / "features" / "a" / "w" / "48px" / "x.npy").write_bytes(b"x" * 2000)
    facts = doctor.gather(home)
    rows = dict(facts.lines())
    assert rows["TensorFlow build"].startswith("CUDA 12.5.1, cuDNN 9")
    assert rows["GPUs (driver)"] == rows["GPUs (TensorFlow)"] == "none"
    assert rows["Precision 'auto'"].startswith("float32: CPU without bfloat16")
    assert rows["Weights"].startswith("no pretrained weights")
    assert "feature cache 2.0 KB" in rows["Disk use"]
    assert facts.disk.features_bytes == 2000 and facts.gpu_mismatch is None
    data = json.loads(json.dumps(facts.to_json()))
    assert data["tensorflow"] == facts.tensorflow and data["disk"]["features_bytes"] == 2000
    assert data["cpu"]["bf16"] is False or data["cpu"]["amx_bf16"] or data["cpu"]["avx512_bf16"]


def test_a_gpu_tensorflow_cannot_see_is_the_reports_warning(home, monkeypatch):
    monkeypatch.setattr(hostinfo, "nvidia_gpus", lambda *a: ["NVIDIA A100"])
    facts = doctor.gather(home, view=VIEW)
    assert dict(facts.lines())["GPUs (driver)"] == "1: NVIDIA A100"
    assert "TensorFlow sees none" in facts.text().splitlines()[-1]


def test_without_tensorflow_the_plan_comes_from_the_driver_and_says_so(home, monkeypatch):
    monkeypatch.setattr(hostinfo, "nvidia_gpus", lambda *a: [])
    monkeypatch.setattr(device_facts, "probe_view", lambda: None)
    facts = doctor.gather(home)
    assert facts.tensorflow_gpus is None and "not known yet" in facts.device


def test_a_weights_file_in_use_is_checked(home, tmp_path, monkeypatch):
    path = write_vgg16_shaped_h5(tmp_path / "vgg.h5")
    monkeypatch.setenv(settings.WEIGHTS_ENV, str(path))
    label, check = doctor.weights_facts(home)
    assert label == "local file vgg.h5" and "fit VGG16" in check


def test_the_doctor_command_prints_text_or_json(cpu_host, home, capsys):
    assert cli.main(["doctor"]) == 0
    assert "GPUs (TensorFlow)" in capsys.readouterr().out
    assert cli.main(["doctor", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tensorflow_gpus"] == []


def test_the_cache_prune_command_frees_and_refuses_while_a_run_is_active(home, tmp_path, capsys):
    from core.runs.config import RunConfig
    from core.runs.store import Store

    entry = home / "cache" / "decoded" / "a" / "48px-pil"
    entry.mkdir(parents=True)
    (entry / "images.npy").write_bytes(b"x" * 1500)
    store = Store(home)
    run = store.create(RunConfig(dataset=str(tmp_path), weights="none"))
    assert cli.main(["cache", "prune"]) == 2
    assert "active" in capsys.readouterr().err and entry.is_dir()
    assert cli.main(["cache", "prune", "--older-than", "-1"]) == 2
    assert capsys.readouterr().err == "error: --older-than takes a number of days, 0 or more\n"
    store.request_stop(run.id)  # a queued run stops at once
    assert cli.main(["cache", "prune", "--older-than", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["freed_bytes"] == 1500 and not entry.exists()


def test_core_train_says_a_gpu_mismatch_once_before_the_run(
    home, binary_dataset, monkeypatch, capsys
):
    from core.jobs import runs

    said = "The NVIDIA driver lists 1 GPU (NVIDIA A100), but TensorFlow sees none"
    monkeypatch.setattr(device_facts, "mismatch_for", lambda home: said)

    def start_training(*args, **kwargs):  # the run itself is not the point here
        raise RuntimeError("queued no run")

    monkeypatch.setattr(runs, "start_training", start_training)
    assert cli.main(["train", str(binary_dataset), "--weights", "none"]) == 1
    err = capsys.readouterr().err
    assert err.count(said) == 1 and err.index("warning: ") < err.index("queued no run")
