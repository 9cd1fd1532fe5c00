"""One self-contained HTML page per comparison, to share: the strategies and their scores,
the overlaid curves, and for every run its settings, dataset fingerprint and curves.

Runs are grouped by strategy (in the strategy table's order) and every run is shown, so a
comparison that repeats each strategy over several seeds lists each seed's run. Like the
per-run page (core.reports.html_report) it opens without a network: plotly.js is embedded once, and
everything that comes from users (folder, class and label names) is HTML-escaped. Reads only
the store and the runs' files: no TensorFlow, so the app process can build it.
"""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.data import datasets, overlay
from core.data.scan_cache import ScanCache
from core.platform import hostinfo
from core.platform.refusal import Refusal
from core.reports import charts, comparison, report
from core.reports.html_report import STYLE, _e, _table
from core.runs import advisor, runfiles, strategies
from core.runs.results import EpochRecord
from core.runs.store import Run, Store

UNKNOWN = "-"


class ComparisonReportRefused(Refusal, ValueError):
    """There is nothing to report on; the message says why and what to do."""


@dataclass(frozen=True)
class RunEntry:
    run: Run
    history: Sequence[EpochRecord]
    fingerprint: str | None  # None: the run's split or dataset cannot be read any more
    versions: Mapping[str, str]  # recorded when the run trained (empty: not recorded)


@dataclass(frozen=True)
class ComparisonInput:
    title: str
    entries: tuple[RunEntry, ...]  # grouped by strategy, in the strategy table's order
    machine: Mapping[str, str]
    written: str  # ISO time
    # a comparison over several seeds: core.reports.comparison's mean ± std rows and its verdict
    over_seeds: tuple[Mapping[str, str], ...] = ()
    verdict: str = ""


def by_strategy(runs: Iterable[Run]) -> list[Run]:
    """Training runs grouped by strategy in the table's order (unknown ones last), each
    strategy's runs by seed, then by when they were queued."""
    order = {key: k for k, key in enumerate(strategies.STRATEGIES)}
    trained = [r for r in runs if not report.is_probe(r)]
    return sorted(
        trained, key=lambda r: (order.get(r.strategy, len(order)), r.config.seed, r.created)
    )


def group_runs(store: Store, ref: str) -> tuple[str, list[Run]]:
    """A comparison's id and its runs, from the group id or the id (or a unique prefix) of
    any of its runs (`python -m core runs` lists run ids)."""
    runs = by_strategy(store.list(group_id=ref, limit=10_000)) if ref else []
    if runs:
        return ref, runs
    member = store.find(ref) if ref else None
    if member is None or not member.group_id:
        raise ComparisonReportRefused(
            f"no comparison {ref!r} in this studio: give a comparison's group id, or the id of "
            "one of its runs (`python -m core runs` lists them)"
        )
    return member.group_id, by_strategy(store.list(group_id=member.group_id, limit=10_000))


def existing(store: Store, run_ids: Iterable[str]) -> list[Run]:
    """The runs among these ids that are still in the store."""
    found = []
    for run_id in run_ids:
        try:
            found.append(store.get(run_id))
        except KeyError:
            continue
    return found


def trained_on(runs: Sequence[Run]) -> str:
    """The devices the runs recorded (the worker measured them), else the driver's view."""
    recorded = {
        r.training_result.device.summary
        for r in runs
        if r.training_result is not None and r.training_result.device is not None
    }
    if recorded:
        return "; ".join(sorted(recorded))
    return f"{hostinfo.quick_device()} (the driver's view: these runs did not record theirs)"


def machine(runs: Sequence[Run] = ()) -> dict[str, str]:
    """Where this report was written (the studio's worker trains on the same machine)."""
    cpu = hostinfo.cpu_features()
    return {
        "processor": cpu.model or platform.machine() or UNKNOWN,
        "cores": str(os.cpu_count() or UNKNOWN),
        "device": trained_on(runs),
        "bfloat16 instructions": cpu.bf16_label,
        "system": platform.platform(terse=True),
    }


_Scans = dict[tuple[tuple[str, str | None], str], datasets.Scan]  # (roots, edits) -> scan


def _fingerprint(store: Store, run: Run, scans: _Scans) -> str | None:
    """The run's dataset fingerprint (as in its bundle: the files seen through the overlay
    edits the run trained under); scans shared by runs of one dataset and edits."""
    try:
        manifest = runfiles.read_json(store.run_dir(run.id), "manifest.json")
        edits = overlay.recorded(manifest)
        roots = runfiles.image_roots(run.config, store.home)
        key = (roots, overlay.dumps(edits))
        if key not in scans:
            scans[key] = datasets.scan(*roots, edits=edits, cache=ScanCache(store.home))
        split = datasets.split_from_manifest(scans[key], manifest)
    except (runfiles.RunFilesMissing, datasets.DatasetError, OSError, ValueError, KeyError):
        return None
    return runfiles.dataset_fingerprint(runfiles.hashed_manifest(split, manifest.get("edits")))


def _versions(store: Store, run: Run) -> dict[str, str]:
    try:
        return dict(runfiles.read_json(store.run_dir(run.id), "versions.json"))
    except (runfiles.RunFilesMissing, ValueError):
        return {}


def gather(store: Store, runs: Sequence[Run], title: str) -> ComparisonInput:
    scans: _Scans = {}
    entries = tuple(
        RunEntry(
            run,
            store.epoch_history(run.id),
            _fingerprint(store, run, scans),
            _versions(store, run),
        )
        for run in by_strategy(runs)
    )
    if not entries:
        raise ComparisonReportRefused("no training run to report on: pick at least one run")
    written = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    trained = [e.run for e in entries]
    if not comparison.is_repeated(trained):
        return ComparisonInput(title, entries, machine(trained), written)
    summary = comparison.summary_of(store, trained)
    rows = tuple(
        {**row, "strategy": report.strategy_title(row["strategy"])}
        for row in comparison.table_rows(summary)
    )
    return ComparisonInput(
        title, entries, machine(trained), written, rows, summary.verdict.statement
    )


def _over_seeds(data: ComparisonInput) -> str:
    if not data.over_seeds:
        return ""
    header = list(data.over_seeds[0])
    return (
        "<h2>Over the seeds</h2>"
        + _table(header, [[row[c] for c in header] for row in data.over_seeds])
        + "<p>Mean ± standard deviation (sample, n − 1) over the seeds that finished.</p>"
        + f"<p><b>{_e(data.verdict)}</b></p>"
    )


# -- the page ---------------------------------------------------------------------------------
def curve_name(run: Run) -> str:
    """'Fine-tune the top blocks · seed 1 · 3dee32': what tells overlaid runs apart."""
    return f"{report.strategy_title(run.strategy)} · seed {run.config.seed} · {run.id[-6:]}"


def _anchor(run: Run) -> str:
    return f"run-{_e(run.id)}"


def _score(value: float | None) -> object:
    return float(value) if value is not None else UNKNOWN


def _strategies_table(entries: Sequence[RunEntry]) -> str:
    """Each strategy's best run by its held-out score (test accuracy; validation only when no
    run has a test side), as the Compare page ranks."""
    side = report.ranking_side(e.run for e in entries)
    rows = []
    for key in dict.fromkeys(e.run.strategy for e in entries):
        mine = [e.run for e in entries if e.run.strategy == key]
        scored = [r for r in mine if report.side_score(r, side)[0] is not None]
        best = report.best_run(mine, side)
        rows.append(
            (
                report.strategy_title(key),
                f"{len(scored)} of {len(mine)}",
                _score(report.side_score(best, side)[0] if best else None),
                best.id if best else UNKNOWN,
            )
        )
    return "<h2>Strategies</h2>" + _table(
        ("strategy", "runs with a score", f"best {report.SIDE_NAMES[side]}", "best run"), rows
    )


def _runs_table(entries: Sequence[RunEntry]) -> str:
    head = (
        "strategy",
        "run",
        "seed",
        "status",
        "test accuracy",
        "test loss",
        "validation accuracy",
        "validation loss",
        "epochs",
        "training time",
    )
    body = []
    for entry in entries:
        run, result = entry.run, entry.run.training_result
        cells = (
            _e(report.strategy_title(run.strategy)),
            f'<a href="#{_anchor(run)}">{_e(run.id)}</a>',
            _e(run.config.seed),
            _e(report.STATUS_WORDS.get(run.status, run.status)),
        )
        numbers = (
            (result.test_accuracy, result.test_loss, result.val_accuracy, result.val_loss)
            if result
            else (None,) * 4
        )
        body.append(
            "<tr>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + "".join(
                f'<td class="n">{v:.3f}</td>' if v is not None else f"<td>{UNKNOWN}</td>"
                for v in numbers
            )
            + f"<td>{_e(result.epochs_run if result and result.epochs_run else UNKNOWN)}</td>"
            + f"<td>{_e(report.duration(report.train_seconds(run)))}</td>"
            + "</tr>"
        )
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f"<h2>Every run</h2><table><tr>{header}</tr>{''.join(body)}</table>"


def _curves(entries: Sequence[RunEntry]) -> str:
    series = {curve_name(e.run): list(e.history) for e in entries}
    accuracy = charts.compare_curves(series)
    loss = charts.compare_curves(series, metric="val_loss")
    note = report.shared_start_note(e.run.strategy for e in entries)
    page: str = (
        "<h2>Curves</h2>"
        + accuracy.to_html(full_html=False, include_plotlyjs=True)  # inline: opens offline
        + loss.to_html(full_html=False, include_plotlyjs=False)
        + (f"<p>{_e(note)}</p>" if note else "")
    )
    return page


def _dataset(entries: Sequence[RunEntry]) -> str:
    folders = sorted({e.run.dataset for e in entries})
    prints = {e.fingerprint for e in entries}
    shared = prints.pop() if len(prints) == 1 else None
    if shared is not None:
        same = (
            f"<p>Every run learned from exactly the same files: fingerprint "
            f"<code>{_e(shared[:16])}</code> (names, sides, classes and contents).</p>"
        )
    else:
        same = "<p>The runs' fingerprints differ or could not all be read: see each run.</p>"
    return (
        "<h2>Dataset</h2>"
        + "".join(f"<p><code>{_e(folder)}</code></p>" for folder in folders)
        + same
    )


def _settings(run: Run) -> list[tuple[str, object]]:
    config, result = run.config, run.training_result
    rates = ", ".join(f"{k} {v:g}" for k, v in sorted(config.learning_rates.items()))
    return [
        ("strategy", report.strategy_title(run.strategy)),
        ("weights", (result.weights if result and result.weights else None) or config.weights),
        ("image size", f"{config.image_size} px"),
        *(
            [("classifier", advisor.closed_form_words(config.layer))]
            if config.strategy_spec.closed_form
            else [
                ("epochs (head, fine-tuning)", f"{config.epochs}, {config.finetune_epochs}"),
                ("learning rates", rates or "the strategy's defaults"),
            ]
        ),
        ("batch size", config.batch_size),
        ("augmentation", config.augment_kind if config.augment else "none"),
        ("seed", config.seed),
        ("validation share", f"{config.val_fraction:g}"),
        ("precision", config.precision),
        ("status", report.STATUS_WORDS.get(run.status, run.status)),
        ("note", run.error or (result.note if result and result.note else "") or UNKNOWN),
    ]


def _run_section(entry: RunEntry) -> str:
    run = entry.run
    fingerprint = entry.fingerprint[:16] if entry.fingerprint else "not readable any more"
    parts = [
        f'<section id="{_anchor(run)}"><h3>{_e(curve_name(run))}</h3>',
        f"<p>Run <code>{_e(run.id)}</code> on <code>{_e(run.dataset)}</code>, "
        f"dataset fingerprint <code>{_e(fingerprint)}</code>.</p>",
        _table(("setting", "value"), _settings(run)),
    ]
    if entry.history:
        figure = charts.training_curves(list(entry.history))
        parts.append(figure.to_html(full_html=False, include_plotlyjs=False))
    result = run.training_result
    if result and result.per_class:
        rows = [(c.name, c.precision, c.recall, c.f1, c.support) for c in result.per_class]
        side = f"{result.evaluated_on} images"  # the side the counts are of (test, mostly)
        parts.append(_table(("class", "precision", "recall", "F1", side), rows))
    if entry.versions:
        parts.append(_table(("library", "version"), sorted(entry.versions.items())))
    return "".join(parts) + "</section>"


def render(data: ComparisonInput) -> str:
    """The whole page, as one string of HTML."""
    machine_rows = sorted(data.machine.items())
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>VGG16 studio comparison {_e(data.title)}</title><style>{STYLE}</style>"
        f"</head><body><h1>Comparison {_e(data.title)}</h1>"
        f"<p>{len(data.entries)} runs, written {_e(data.written)}.</p>"
        + _strategies_table(data.entries)
        + _over_seeds(data)
        + _runs_table(data.entries)
        + _curves(data.entries)
        + _dataset(data.entries)
        + "<h2>Machine</h2><p>Where this report was written; the studio's worker trains on "
        "the same machine.</p>"
        + _table(("what", "value"), machine_rows)
        + "<h2>Each run</h2>"
        + "".join(_run_section(e) for e in data.entries)
        + "</body></html>"
    )


def for_group(store: Store, ref: str) -> str:
    """The page of one comparison group (every strategy and seed it ran); ref as in
    `group_runs`."""
    group_id, runs = group_runs(store, ref)
    return render(gather(store, runs, group_id))


def for_runs(store: Store, runs: Sequence[Run]) -> str:
    """The page of runs picked side by side: titled by their group when they share one."""
    groups = {r.group_id for r in runs}
    shared = next(iter(groups)) if len(groups) == 1 else None
    try:
        return render(gather(store, runs, shared or f"of {len(runs)} runs"))
    except ComparisonReportRefused as exc:  # a page, not an error: made after a click
        return f'<!DOCTYPE html><html lang="en"><meta charset="utf-8"><p>{_e(exc)}</p></html>'
