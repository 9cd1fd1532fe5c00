"""The weights setting is parsed once, by WeightsSpec.parse, and every reader agrees on it."""

from pathlib import Path

import pytest

from core.cli import common as cli_common
from core.jobs import worker
from core.model.weights import FILE, IMAGENET, NONE, WeightsError, WeightsSpec
from core.platform import settings
from core.runs.config import RunConfig


@pytest.mark.parametrize("text", ["imagenet", " ImageNet ", "IMAGENET"])
def test_imagenet_in_any_case(text):
    spec = WeightsSpec.parse(text)
    assert (spec.kind, spec.setting, spec.pretrained) == (IMAGENET, "imagenet", True)


@pytest.mark.parametrize("text", ["none", "None", "random", " RANDOM "])
def test_none_and_random_mean_no_weights(text):
    spec = WeightsSpec.parse(text)
    assert (spec.kind, spec.setting, spec.pretrained) == (NONE, "none", False)
    assert spec.label == "no pretrained weights"


def test_empty_text_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(settings.WEIGHTS_ENV, raising=False)
    assert WeightsSpec.parse(None).kind == IMAGENET
    assert WeightsSpec.parse("").kind == IMAGENET
    monkeypatch.setenv(settings.WEIGHTS_ENV, "none")
    assert WeightsSpec.parse(None).kind == NONE


def test_a_file_path_becomes_absolute_with_a_content_digest(tmp_path, monkeypatch):
    file = tmp_path / "w.weights.h5"
    file.write_bytes(b"abc")
    monkeypatch.chdir(tmp_path)
    spec = WeightsSpec.parse("w.weights.h5").checked()
    assert (spec.kind, spec.path, spec.setting) == (FILE, file, str(file))
    assert spec.label == "local file w.weights.h5"
    assert spec.cache_id(0) == "file-" + spec.digest() and len(spec.digest()) == 16


def test_a_missing_file_is_a_problem_not_a_crash(tmp_path):
    spec = WeightsSpec.parse(str(tmp_path / "missing.h5"))
    assert spec.kind == FILE and spec.problem() == f"weights file not found: {spec.path}"
    with pytest.raises(WeightsError, match="weights file not found"):
        spec.checked()


def test_every_reader_uses_the_same_parse(tmp_path, monkeypatch):
    """CLI, RunConfig, the worker and the UI default all turn ' Random ' into 'none' and a
    relative path into the same absolute one."""
    from ui import pretrained

    file = tmp_path / "w.h5"
    file.write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    for text, expected in ((" Random ", "none"), ("w.h5", str(file)), ("ImageNet", "imagenet")):
        config = RunConfig(dataset=str(tmp_path), weights=text)
        assert cli_common.weights_setting(text) == expected
        assert config.weights_spec.setting == expected
        assert config.problems() == []
        assert worker.absolute_paths(config).weights == expected
        monkeypatch.setenv(settings.WEIGHTS_ENV, text)
        assert pretrained.default_weights() == expected
    assert Path(worker.absolute_paths(config).dataset) == tmp_path


def test_strategy_from_random_weights_ignores_the_setting(tmp_path):
    config = RunConfig(dataset=str(tmp_path), strategy="scratch", weights=str(tmp_path / "x"))
    assert config.weights_for_run().kind == NONE
    assert RunConfig(dataset=str(tmp_path), weights="Random").weights_for_run().kind == NONE
