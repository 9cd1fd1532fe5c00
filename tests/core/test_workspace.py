"""core.runs.workspace: the dataset, settings and last results kept per studio home."""

from __future__ import annotations

import json
import logging

import pytest

from core.runs import workspace
from core.runs.workspace import Workspace


def test_a_saved_workspace_comes_back_as_it_was(tmp_path):
    saved = Workspace(
        dataset=str(tmp_path / "digits"),
        dataset_label="built-in sample",
        audio_source=None,
        settings={"image_size": 32, "weights": "none", "augment": True, "val_fraction": 0.25},
        train_run="20260101-000000-abcdef",
        compare_group="g1",
        applied_advice="20260101-000000-probe1",
        choices={"lr_finetune_finetune": 3e-05, "opt_head_head": "sgd"},
    )
    workspace.save(saved, tmp_path)
    assert workspace.load(tmp_path) == saved
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_no_file_is_no_workspace(tmp_path):
    assert workspace.load(tmp_path) is None


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe", b"[1, 2]", b'{"dataset": 3}', b'{"settings": "x"}'],
)
def test_a_damaged_file_is_ignored_with_a_log_line(tmp_path, caplog, content):
    workspace.path(tmp_path).write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="studio.workspace"):
        assert workspace.load(tmp_path) is None
    assert "workspace file" in caplog.text and "ignored" in caplog.text


def test_unknown_or_mistyped_settings_are_dropped_and_the_rest_kept(tmp_path, caplog):
    workspace.path(tmp_path).write_text(
        json.dumps(
            {
                "dataset": "/data/x",
                "settings": {
                    "image_size": "big",  # wrong type
                    "augment": 1,  # an int is not a bool
                    "epochs": 3,
                    "val_fraction": 1,  # an int is fine for a float
                    "manifest": {},  # not a user setting
                    "no_such_setting": 1,
                },
            }
        )
    )
    with caplog.at_level(logging.WARNING, logger="studio.workspace"):
        loaded = workspace.load(tmp_path)
    assert loaded.dataset == "/data/x" and loaded.dataset_label == ""
    assert loaded.settings == {"epochs": 3, "val_fraction": 1}
    assert "image_size" in caplog.text


def test_the_settings_are_runconfig_fields_a_user_chooses():
    assert {"strategy", "image_size", "weights", "epochs", "seed", "augment"} <= set(
        workspace.SETTINGS
    )
    assert not {"dataset", "manifest", "task", "label"} & set(workspace.SETTINGS)
