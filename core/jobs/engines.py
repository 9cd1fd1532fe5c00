"""Where queued runs execute: the local worker (the default) or a Ray cluster.

The choice is configuration, never a code path a page picks: `--engine ray [--ray-address ADDR]`
on the CLI, `STUDIO_RAY_ADDRESS` for the app (set: its runs go to that cluster). A Ray address
is "auto" (a cluster already running on this machine, started with `ray start --head`),
"local" (a private cluster started for the executor's lifetime and gone with it), or a
cluster's address (HOST:PORT, or ray://HOST:10001 for Ray Client).

This module never imports ray: the app and the local worker must not pay its import time.
`core.jobs.ray_engine` imports it, in the Ray executor process only. The reachability check here
is a TCP connect (no Ray), so a page or the CLI can refuse before anything is queued.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.runs.config import RunConfig

from core.platform.refusal import Refusal

LOCAL, RAY = "local", "ray"
ENGINES = (LOCAL, RAY)
RAY_ADDRESS_ENV = "STUDIO_RAY_ADDRESS"
SHARED_DATA_ENV = "STUDIO_RAY_SHARED_DATA"  # "1": datasets have the same path on every node
AUTO, PRIVATE = "auto", "local"  # Ray's own words for "find the running one" / "start one"
CONNECT_TIMEOUT_SECONDS = 3.0
RAY_REQUIREMENT = "ray>=2.40"
_SETTINGS_FILE = "ray-engine.json"  # the home's last Ray settings: a restarted executor reuses them


class EngineUnavailable(Refusal, ValueError):
    """The chosen engine cannot run anything now (no Ray installed, no cluster reachable)."""


@dataclass(frozen=True)
class Engine:
    """Which executor takes a run: `kind` LOCAL or RAY; for RAY the cluster `address` and
    whether the dataset paths are the same on every node (`shared_data`: no copy is sent)."""

    kind: str = LOCAL
    address: str | None = None
    shared_data: bool = False

    @classmethod
    def choose(
        cls, kind: str | None = None, address: str | None = None, shared_data: bool = False
    ) -> Engine:
        """The engine from CLI-style settings: an address alone means Ray; Ray without an
        address means "auto". Raises ValueError for a contradiction or an unknown engine."""
        address = (address or "").strip() or None
        kind = kind or (RAY if address else LOCAL)
        if kind not in ENGINES:
            raise ValueError(f"unknown engine {kind!r} (choose {' or '.join(ENGINES)})")
        if kind == LOCAL:
            if address:
                raise ValueError("a Ray address needs --engine ray (the local engine has none)")
            return cls()
        return cls(RAY, address or AUTO, shared_data)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Engine:
        """The app's engine: Ray at STUDIO_RAY_ADDRESS when it is set, else the local worker."""
        environ = os.environ if environ is None else environ
        return cls.choose(
            None, environ.get(RAY_ADDRESS_ENV), environ.get(SHARED_DATA_ENV, "") == "1"
        )

    @property
    def is_ray(self) -> bool:
        return self.kind == RAY

    def describe(self) -> str:
        if not self.is_ray:
            return "the local worker"
        where = {AUTO: "the Ray cluster on this machine", PRIVATE: "a private Ray cluster"}
        return where.get(self.address or AUTO, f"the Ray cluster at {self.address}")

    def executor_args(self) -> list[str]:
        """The `python -m core worker` options that make a worker this engine's executor."""
        if not self.is_ray:
            return []
        shared = ["--ray-shared-data"] if self.shared_data else []
        return ["--engine", RAY, "--ray-address", self.address or AUTO, *shared]

    def problem(self) -> str | None:
        """Why this engine cannot take runs now (a sentence saying what to do), or None."""
        if not self.is_ray:
            return None
        return ray_problem(self.address or AUTO)


def ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None


def ray_problem(address: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Why the Ray cluster at `address` cannot be used from here, or None. Checked without
    importing Ray: is it installed, does "auto" find a running cluster, does the address
    accept a connection within a few seconds."""
    environ = os.environ if environ is None else environ
    if not ray_installed():
        return f"the ray engine needs Ray: pip install '{RAY_REQUIREMENT}'"
    if address == PRIVATE:
        return None
    target = address
    if address == AUTO:
        found = environ.get("RAY_ADDRESS") or _current_cluster(environ)
        if not found:
            return (
                "no Ray cluster is running on this machine (address 'auto' looks for one started "
                "with `ray start --head`): start one, give a cluster's address, or use 'local' "
                "for a private one"
            )
        target = found
    parsed = host_and_port(target)
    if parsed is None:
        return f"{address!r} is not a Ray address: use HOST:PORT, ray://HOST:PORT, auto or local"
    return _connect_problem(*parsed)


def host_and_port(address: str) -> tuple[str, int] | None:
    """('10.0.0.5', 6379) from '10.0.0.5:6379' or 'ray://10.0.0.5:10001'; None if neither."""
    text = address.strip().removeprefix("ray://").rstrip("/")
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _current_cluster(environ: Mapping[str, str]) -> str | None:
    """The address `ray start --head` left for "auto" (Ray reads the same file)."""
    temp = Path(environ.get("RAY_TMPDIR") or "/tmp") / "ray" / "ray_current_cluster"
    try:
        text = temp.read_text().strip()
    except OSError:
        return None
    return text or None


def _connect_problem(host: str, port: int) -> str | None:
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_SECONDS).close()
    except OSError as exc:
        return (
            f"the Ray cluster at {host}:{port} cannot be reached ({exc.strerror or exc}): check "
            "that it runs (`ray status` on its head node) and that the address is right"
        )
    return None


# -- the home remembers its Ray settings ------------------------------------------------------
def remember(home: Path, engine: Engine) -> None:
    """Save the Ray settings runs were queued with, so that an executor started later for
    them (after the previous one went idle) connects to the same cluster."""
    if engine.is_ray:
        (Path(home) / _SETTINGS_FILE).write_text(json.dumps(dataclasses.asdict(engine)))


def remembered(home: Path) -> Engine:
    """The Ray settings last used in this home (Ray, "auto" when none were saved)."""
    try:
        data = json.loads((Path(home) / _SETTINGS_FILE).read_text())
        return Engine.choose(RAY, data.get("address"), bool(data.get("shared_data")))
    except (OSError, ValueError, AttributeError):
        return Engine.choose(RAY)


# -- fan-out planning: one feature extraction for the runs that share it -----------------------
Output = tuple[str, str]  # (layer, "map" | "gap"), as core.train.features names a cached output


@dataclass(frozen=True)
class SharedExtraction:
    """Features several runs read: extracted once (one task), then handed to each of them.
    `runs` are indexes into the planned configs."""

    runs: tuple[int, ...]
    outputs: tuple[Output, ...]


def needed_outputs(config: RunConfig) -> tuple[Output, ...]:
    """The cached VGG16 outputs a run reads (what core.train.training extracts): a linear fit its
    layer, pooled; a dense head the bottleneck map (the head is adapted to it), and each
    phase that trains on cached features the map of its last frozen layer (the same cut
    scores the validation images). A probe measures a sample of its own: nothing shared."""
    from core.model import vgg16
    from core.train import phases

    if not config.task_spec.trains:
        return ()
    if config.strategy_spec.closed_form:
        return ((config.layer, "gap"),)
    outputs = [(vgg16.BOTTLENECK_LAYER, "map")]
    plans = phases.plan(config)
    cuts = [] if config.augment else [p.blocks for p in plans]
    cuts.append(max(p.blocks for p in plans))  # evaluation's cut: the deepest phase's
    for blocks in cuts:
        cut = vgg16.frozen_cut_layer(blocks)
        if cut is not None:
            outputs.append((cut, "map"))
    return tuple(dict.fromkeys(outputs))


def features_key(config: RunConfig) -> tuple[str, str | None, str, int, str, str]:
    """Runs with equal keys read the same cached features: same images, weights (random
    weights depend on the seed), size, precision and audio settings."""
    weights = config.weights_for_run()
    return (
        config.dataset,
        config.val_dir,
        weights.cache_id(config.seed),
        config.image_size,
        config.precision,
        json.dumps(config.audio, sort_keys=True),
    )


def shared_extractions(configs: Sequence[RunConfig]) -> list[SharedExtraction]:
    """The extractions worth doing once: each group of two or more runs with the same
    features key (a run alone extracts for itself, inside its own task)."""
    groups: dict[tuple[str, str | None, str, int, str, str], list[int]] = {}
    for index, config in enumerate(configs):
        if needed_outputs(config):
            groups.setdefault(features_key(config), []).append(index)
    return [
        SharedExtraction(
            tuple(members),
            tuple(dict.fromkeys(o for k in members for o in needed_outputs(configs[k]))),
        )
        for members in groups.values()
        if len(members) > 1
    ]
