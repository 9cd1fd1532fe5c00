"""Train a bundle's (or a run's) config again on the same files and say whether the result
matches: the same split, checked file by file against the recorded content hashes, the same
seed; library versions that differ are a warning, not a failure.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.export import bundle
from core.platform.refusal import Refusal
from core.runs import runfiles
from core.runs.config import RunConfig
from core.runs.results import RunResult
from core.runs.store import Store

ACCURACY_TOLERANCE = 0.02  # absolute, validation accuracy
LOSS_TOLERANCE = 0.05  # absolute, validation log loss
SHOWN = 5  # files named in a refusal


class ReproduceRefused(Refusal, ValueError):
    """Nothing to reproduce, or not on the same files; the message says what to do."""


@dataclass(frozen=True)
class Recorded:
    """What a bundle or a finished run recorded."""

    source: str
    config: RunConfig
    manifest: dict[str, Any]  # runfiles.hashed_manifest (hashes None: a run folder records none)
    val_accuracy: float
    val_loss: float
    versions: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    config: RunConfig  # with the recorded split as its manifest
    recorded: Recorded
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    matches: bool
    run_id: str
    recorded_accuracy: float
    accuracy: float
    recorded_loss: float
    loss: float
    warnings: tuple[str, ...]

    def describe(self) -> str:
        verdict = "matches" if self.matches else "does NOT match"
        return (
            f"run {self.run_id} {verdict} the recorded result: validation accuracy "
            f"{self.accuracy:.4f} (recorded {self.recorded_accuracy:.4f}, tolerance "
            f"{ACCURACY_TOLERANCE}), log loss {self.loss:.4f} (recorded "
            f"{self.recorded_loss:.4f}, tolerance {LOSS_TOLERANCE})"
        )


def read_recorded(store: Store, bundle_or_run: str) -> Recorded:
    """From a bundle zip, or from a finished run of this store (id, prefix)."""
    path = Path(bundle_or_run).expanduser()
    if path.suffix == ".zip" or path.is_file():
        if not path.is_file():
            raise ReproduceRefused(f"bundle not found: {path}")

        def member(name: str) -> Any:  # JSON
            return json.loads(bundle.read_member(path, name))

        config, manifest = member(bundle.CONFIG), member(bundle.MANIFEST)
        metrics, versions = member(bundle.METRICS), member(bundle.VERSIONS)
    else:
        run = store.find(bundle_or_run)
        if run is None:
            raise ReproduceRefused(f"no run or bundle matches {bundle_or_run!r}")
        folder = store.run_dir(run.id)
        try:
            saved = runfiles.read_json(folder, bundle.MANIFEST)
        except runfiles.RunFilesMissing as exc:
            raise ReproduceRefused(str(exc)) from None
        config, metrics = run.config.to_dict(), bundle.result_json(run)
        versions = bundle.recorded_versions(folder)
        files = {rel: {"split": side, "sha256": None} for rel, side in saved["files"].items()}
        manifest = {**saved, "files": files}
    if not isinstance(metrics.get("val_accuracy"), (int, float)):
        raise ReproduceRefused(f"{bundle_or_run} records no validation result to compare with")
    return Recorded(
        str(bundle_or_run),
        RunConfig.from_dict(config),
        manifest,
        float(metrics["val_accuracy"]),
        float(metrics.get("val_loss") or 0.0),
        versions,
    )


def plan(
    store: Store, bundle_or_run: str, dataset: str | None = None, val_dir: str | None = None
) -> Plan:
    """The config to run again (on `dataset` when the files moved), after checking that every
    recorded file is there with the same content."""
    recorded = read_recorded(store, bundle_or_run)
    config = dataclasses.replace(
        recorded.config,
        dataset=str(Path(dataset).expanduser().resolve()) if dataset else recorded.config.dataset,
        val_dir=str(Path(val_dir).expanduser().resolve()) if val_dir else recorded.config.val_dir,
        manifest=runfiles.plain_manifest(recorded.manifest),
        label=f"reproduce {Path(recorded.source).name}",
    )
    if problems := config.problems():
        raise ReproduceRefused("; ".join(problems))
    warnings = _check_files(config, recorded.manifest, store.home)
    libraries = {k: v for k, v in recorded.versions.items() if k in runfiles.library_versions()}
    differences = runfiles.version_differences(libraries, runfiles.library_versions())
    warnings += [f"versions differ: {line}" for line in differences]
    return Plan(config, recorded, tuple(warnings))


def _check_files(config: RunConfig, manifest: dict[str, Any], home: Path) -> list[str]:
    try:
        split = runfiles.rebuild_split(config, runfiles.plain_manifest(manifest), home)
    except runfiles.RunFilesMissing as exc:
        raise ReproduceRefused(str(exc)) from None
    now = {item.rel: item.sha256 for items in split.sides().values() for item in items}
    missing = [rel for rel in manifest["files"] if rel not in now]
    recorded = {rel: entry.get("sha256") for rel, entry in manifest["files"].items()}
    changed = [rel for rel, sha in recorded.items() if sha and rel in now and now[rel] != sha]
    if missing or changed:
        named = ", ".join((missing + changed)[:SHOWN])
        raise ReproduceRefused(
            f"{len(missing)} file(s) missing and {len(changed)} changed since the result was "
            f"recorded (e.g. {named}): reproducing needs the same files; point --dataset at "
            "a copy of them"
        )
    if not any(recorded.values()):
        return ["the run folder records no content hashes: the files were not verified"]
    return []


def compare(prepared: Plan, run_id: str, result: RunResult | None) -> Outcome:
    """The new run's result next to the recorded one (no result: does not match)."""
    recorded = prepared.recorded
    nan = float("nan")
    accuracy = nan if result is None or result.val_accuracy is None else result.val_accuracy
    loss = nan if result is None or result.val_loss is None else result.val_loss
    matches = (
        abs(accuracy - recorded.val_accuracy) <= ACCURACY_TOLERANCE
        and abs(loss - recorded.val_loss) <= LOSS_TOLERANCE
    )
    return Outcome(
        matches,
        run_id,
        recorded.val_accuracy,
        accuracy,
        recorded.val_loss,
        loss,
        prepared.warnings,
    )
