"""core.runconfig: the settings of one run and their problems."""

from core.runconfig import RunConfig


def test_scratch_ignores_weights_setting(tmp_path):
    config = RunConfig(dataset=str(tmp_path), strategy="scratch", weights="imagenet")
    assert config.weights_for_run() == "none"


def test_run_config_problems_are_sentences(tmp_path):
    config = RunConfig(
        dataset=str(tmp_path / "missing"),
        image_size=16,
        epochs=0,
        weights=str(tmp_path / "nope.h5"),
        strategy="head",
    )
    text = " | ".join(config.problems())
    assert "at least 32 px" in text
    assert "epochs must be at least 1" in text
    assert "weights file not found" in text
    assert "dataset folder not found" in text
    assert RunConfig(dataset=str(tmp_path), weights="none").problems() == []
