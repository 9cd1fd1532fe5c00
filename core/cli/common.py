"""What the command modules share: exit codes, the CLI's refusal, and the steps a command that
runs something takes (check the settings, scan the folder, queue, follow the run)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from core.platform import settings
from core.platform.refusal import Refusal
from core.runs.config import RunConfig

EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 1
CLI_IDLE_SECONDS = 5.0  # a worker started by the CLI exits soon after its run
RUN_HELP = "run id (or a unique prefix)"  # the RUN argument of the commands that take one


class CliError(Refusal):
    """Bad input: printed as one line, exit code 2."""


def checked(config: RunConfig) -> RunConfig:
    """The config, or its problems (bounds, choices, a missing folder) as one line."""
    if problems := config.problems():
        raise CliError("; ".join(problems))
    return config


def scan_or_fail(folder: str, val_dir: str | None, home: str | None) -> Any:
    """The dataset as the app sees it: images, or audio clips (a run renders their spectrograms),
    with the edits made on the Data page applied. The edits are kept per studio home: pass the
    --home given (None: the default home), or the scan reads another home's fixes."""
    from core.data import audio, overlay
    from core.data.scan_cache import ScanCache

    edits = overlay.load(settings.home_path(home), folder)
    cache = ScanCache(settings.home_path(home))  # the page's and the worker's: read once
    # a DatasetError is a Refusal: main() says it
    return audio.scan_dataset(folder, val_dir, edits, cache, ScanLines(sys.stderr))


class ScanLines:
    """A long scan's progress on stderr: one line rewritten in place on a terminal, else a
    line every LOG_SECONDS; nothing for a scan done within the first QUIET_SECONDS."""

    QUIET_SECONDS, TERMINAL_SECONDS, LOG_SECONDS = 1.0, 0.25, 10.0

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.shown: float | None = None  # seconds into the scan of the last line
        self.terminal = stream.isatty()

    def _due(self, progress: Any) -> bool:
        if self.shown is None:
            return bool(progress.seconds >= self.QUIET_SECONDS)
        if progress.done == progress.total:
            return True  # the last word, once something was said
        every = self.TERMINAL_SECONDS if self.terminal else self.LOG_SECONDS
        return bool(progress.seconds - self.shown >= every)

    def __call__(self, progress: Any) -> None:
        from core.reports.report import scan_words

        if not self._due(progress):
            return
        self.shown = progress.seconds
        words = scan_words(progress)
        if self.terminal:
            end = "\n" if progress.done == progress.total else ""
            print(f"\r{words}\033[K", end=end, file=self.stream, flush=True)
        else:
            print(words, file=self.stream, flush=True)


def usable_dataset(folder: str, val_dir: str | None, home: str | None) -> Any:
    """scan_or_fail, and a dataset that cannot train (one class, no readable file) refused."""
    found = scan_or_fail(folder, val_dir, home)
    if not found.ok:
        raise CliError("; ".join(found.errors))
    return found


def weights_setting(text: str | None) -> str:
    """--weights (or $VGG16_WEIGHTS) as a run setting: 'imagenet', 'none' or an absolute path."""
    from core.model.weights import WeightsSpec

    spec = WeightsSpec.parse(text)
    if problem := spec.problem():
        raise CliError(problem)
    return spec.setting


def accepted(outcome: Any) -> Any:
    """The run core.jobs.runs queued (or core.jobs.run_admin changed), or its refusal (another
    run under way, a setting) raised: main() prints it as the one-line error, so the command
    line obeys the same rules as the pages."""
    from core.jobs import runs

    if isinstance(outcome, runs.Refused):
        raise outcome
    return outcome


def run_or_fail(store: Any, ref: str) -> Any:
    run = store.find(ref)
    if run is None:
        raise CliError(f"no run matches {ref!r}")
    return run


def stage_line(progress: Any) -> str | None:
    """A progress line worth printing: stage changes, and extraction (or the learning-rate
    sweep) in steps of 10%."""
    stage, message = progress.stage, progress.message
    if not message or stage == "training":
        return None  # training prints one line per epoch instead
    what = {"extracting": "VGG16 features", "finding": "learning-rate sweep"}.get(stage)
    if what and progress.steps:
        return f"{stage}: {what}, {10 * (10 * (progress.step or 0) // progress.steps)}%"
    return f"{stage}: {message}"


def _epoch_line(metric: Any) -> str:
    values = " ".join(
        f"{k} {v:.4f}"
        for k, v in metric.data.items()
        if k in ("loss", "accuracy", "val_loss", "val_accuracy")
    )
    return f"epoch {metric.epoch} [{metric.phase}] {values} ({metric.data.get('seconds', 0):.1f}s)"


def _start_worker_if_queued(store: Any, run: Any) -> None:
    from core.jobs import engines, worker
    from core.runs import store as store_mod

    if run.status == store_mod.QUEUED:
        engine = engines.remembered(store.home) if run.engine == engines.RAY else None
        worker.start_worker(store.home, CLI_IDLE_SECONDS, engine)  # no-op while one runs


def follow(store: Any, run_id: str, quiet: bool, on_interrupt: Any = None) -> None:
    """Print progress until the run finishes; Ctrl-C asks the run to stop (or calls
    on_interrupt: a comparison stops as a whole)."""
    from core.jobs import worker
    from core.runs import store as store_mod

    seq, last_stage = 0, None
    while True:
        try:
            worker.reap(store, start=False)  # the CLI starts its own short-lived worker below
            run = store.get(run_id)
            _start_worker_if_queued(store, run)
            for metric in store.metrics_since(run_id, seq, kind="epoch"):
                seq = metric.seq
                if not quiet:
                    print(_epoch_line(metric), flush=True)
            stage = stage_line(run.progress)
            if not quiet and stage and stage != last_stage:
                print(stage, flush=True)
                last_stage = stage
            if run.status in store_mod.FINISHED:
                return
            time.sleep(0.5)
        except KeyboardInterrupt:
            print("stopping (within one batch)...", file=sys.stderr, flush=True)
            (on_interrupt or store.request_stop)(run_id)


def home_after_command(parser: argparse.ArgumentParser) -> None:
    """`--home` also after a command (`python -m core runs --home H`), as documented."""
    parser.add_argument("--home", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
