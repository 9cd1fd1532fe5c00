"""Measured extraction speed in the studio home, and the estimates made from it."""

from __future__ import annotations

import pytest

from core.runs import speed


def test_nothing_measured_gives_the_cautious_default(tmp_path):
    found = speed.measured(tmp_path)
    assert found.source == "default" and found.images_per_s == speed.DEFAULT_IMAGES_PER_S
    assert found == speed.default_speed("float32")


def test_a_recording_is_kept_per_precision(tmp_path):
    speed.record(tmp_path, 320, 20.0, 150, "float32", "bench")
    speed.record(tmp_path, 540, 10.0, 150, "bfloat16", "run")
    assert speed.measured(tmp_path, "float32").images_per_s == 16.0
    bf16 = speed.measured(tmp_path, "bfloat16")
    assert (bf16.images_per_s, bf16.source) == (54.0, "run") and bf16.measured_at
    speed.record(tmp_path, 300, 10.0, 150, "float32", "run")  # the latest replaces
    assert speed.measured(tmp_path, "float32").images_per_s == 30.0


def test_tiny_or_instant_extractions_are_not_recorded(tmp_path):
    assert speed.record(tmp_path, 10, 1.0, 150, "float32", "run") is None
    assert speed.record(tmp_path, 500, 0.0, 150, "float32", "run") is None
    assert speed.measured(tmp_path).source == "default"


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"float32": {"images_per_s": -1}}'])
def test_a_damaged_file_falls_back_to_the_default(tmp_path, content):
    (tmp_path / speed.SPEED_FILE).write_text(content)
    assert speed.measured(tmp_path).source == "default"


def test_speed_scales_with_pixels():
    measured = speed.Speed(16.0, 150, "float32", "bench")
    assert measured.at_size(75) == pytest.approx(64.0)
    assert speed.estimate_extraction_seconds(1600, 300, measured) == pytest.approx(400.0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "about 1 s"), (75, "about 75 s"), (700, "about 12 min"), (9000, "about 2.5 h")],
)
def test_describe_seconds(seconds, text):
    assert speed.describe_seconds(seconds) == text
