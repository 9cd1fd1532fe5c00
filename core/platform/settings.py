"""Where the studio keeps its files, and how settings come from the environment.

One home folder holds the run store (SQLite), run artifacts and the feature cache.
`STUDIO_HOME` (or `--home` on the CLI) moves it; the default is `.studio/` in the working dir.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from core.platform.refusal import Refusal

# the checkout: where `python -m core` runs from (child processes), README.md, pyproject.toml
PROJECT_ROOT = Path(__file__).resolve().parents[2]
HOME_ENV = "STUDIO_HOME"
WEIGHTS_ENV = "VGG16_WEIGHTS"
DB_ENV = "STUDIO_DB"
UPLOAD_QUOTA_ENV = "STUDIO_UPLOAD_QUOTA_GB"
DEFAULT_UPLOAD_QUOTA_GB = 5.0  # all browser sessions' uploads together, per home


class SettingError(Refusal, ValueError):
    """An environment setting the studio cannot use: said to the person like any refusal."""


def home_path(home: str | os.PathLike[str] | None = None) -> Path:
    """Where the studio home is, without creating it (read-only commands look, never write)."""
    return Path(home or os.environ.get(HOME_ENV) or ".studio").expanduser().resolve()


def studio_home(home: str | os.PathLike[str] | None = None) -> Path:
    path = home_path(home)
    path.mkdir(parents=True, exist_ok=True)
    return path


def db_path(home: Path) -> Path:
    return Path(os.environ.get(DB_ENV) or home / "runs.sqlite3")


def runs_dir(home: Path) -> Path:
    return home / "runs"


def cache_dir(home: Path) -> Path:
    return home / "cache"


# the caches below cache_dir that grow with datasets and `core cache prune` frees (the others,
# spectrograms and maps, are small and rebuilt from the person's files)
FEATURES_CACHE, DECODED_CACHE = "features", "decoded"


def samples_dir(home: Path) -> Path:
    return home / "samples"


def upload_quota_bytes() -> int:
    """The most bytes all session uploads of one home may hold (STUDIO_UPLOAD_QUOTA_GB)."""
    raw = os.environ.get(UPLOAD_QUOTA_ENV, "").strip()
    try:
        gigabytes = float(raw) if raw else DEFAULT_UPLOAD_QUOTA_GB
    except ValueError as exc:
        raise SettingError(
            f"{UPLOAD_QUOTA_ENV}={raw!r} is not a number of gigabytes (for example 5 or 0.5)"
        ) from exc
    return int(max(gigabytes, 0.0) * 1e9)


ICE_SERVERS_ENV = "STUDIO_ICE_SERVERS"


def ice_servers() -> list[dict[str, Any]]:
    """The ICE servers the live preview's WebRTC connection may use (STUDIO_ICE_SERVERS, a JSON
    list such as [{"urls": ["stun:stun.example.org:3478"]}]). None by default: the studio works
    offline, and a browser on the same machine or network connects directly; a browser behind
    another NAT needs a STUN or TURN server named here."""
    raw = os.environ.get(ICE_SERVERS_ENV, "").strip()
    if not raw:
        return []
    try:
        servers = json.loads(raw)
    except ValueError as exc:
        raise SettingError(f"{ICE_SERVERS_ENV} is not valid JSON ({exc})") from exc
    if not isinstance(servers, list) or not all(
        isinstance(s, dict) and "urls" in s for s in servers
    ):
        raise SettingError(
            f'{ICE_SERVERS_ENV} must be a JSON list like [{{"urls": ["stun:host:3478"]}}]'
        )
    return servers
