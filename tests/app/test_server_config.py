""".streamlit/config.toml: the security settings are there, every key is a real option of the
installed Streamlit, and Streamlit itself reads the values from this file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

import streamlit
from streamlit import config as st_config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".streamlit" / "config.toml"

EXPECTED = {
    "server.maxUploadSize": 200,
    "server.enableXsrfProtection": True,
    "server.enableCORS": True,
    "server.address": "localhost",
    "server.headless": True,
    "server.fileWatcherType": "none",  # an idle tab must not cost a core (issue 10)
    "browser.gatherUsageStats": False,
    "client.showErrorDetails": "none",
}


def flat_options() -> dict[str, object]:
    """{"section.option": value} for every key of the file (nested tables joined by dots)."""
    out: dict[str, object] = {}

    def walk(prefix: str, table: dict) -> None:
        for key, value in table.items():
            name = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict):
                walk(name, value)
            else:
                out[name] = value

    with open(CONFIG, "rb") as handle:
        walk("", tomllib.load(handle))
    return out


def test_security_settings_are_set():
    options = flat_options()
    for key, value in EXPECTED.items():
        assert key in options, f"{key} is missing from {CONFIG}"
        assert options[key] == value and type(options[key]) is type(value), key


def test_every_key_is_a_current_streamlit_option_of_the_right_type():
    registry = st_config._config_options_template  # every option the installed version defines
    assert "server.maxUploadSize" in registry  # the registry is what we think it is
    for key, value in flat_options().items():
        assert key in registry, f"{key} is not an option of Streamlit {streamlit.__version__}"
        option = registry[key]
        assert not option.deprecated, f"{key} is deprecated"
        if option.type is not type(None):
            assert isinstance(value, option.type), (key, option.type, value)


def test_error_details_value_is_one_streamlit_accepts():
    accepted = {str(v.value) for v in st_config.ShowErrorDetailsConfigOptions}
    assert flat_options()["client.showErrorDetails"] in accepted - {"full", "stacktrace"}


def test_streamlit_reads_these_values_from_the_file(monkeypatch):
    for name in list(os.environ):
        if name.startswith("STREAMLIT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(ROOT)  # Streamlit reads $CWD/.streamlit/config.toml
    try:
        st_config.get_config_options(force_reparse=True)
        for key, value in EXPECTED.items():
            assert st_config.get_option(key) == value, key
            assert Path(st_config.get_where_defined(key)) == CONFIG, key
    finally:
        monkeypatch.undo()
        st_config.get_config_options(force_reparse=True)
