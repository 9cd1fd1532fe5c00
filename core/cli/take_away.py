"""Commands that take a finished run's model away: predict, export, bundle, report, reproduce."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from core.cli import common, flags
from core.cli.common import (
    CLI_IDLE_SECONDS,
    EXIT_BAD_INPUT,
    EXIT_RUN_FAILED,
    RUN_HELP,
    CliError,
)


def register(sub: Any) -> None:
    predict = sub.add_parser("predict", help="classify images (or clips) with a run's model")
    predict.add_argument(
        "model", metavar="MODEL", help="run id (or prefix) or the run's model.keras path"
    )
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="pictures or audio clips")
    predict.add_argument(
        "--top-k", type=int, default=3, metavar="K", help="classes shown (default: %(default)s)"
    )
    predict.add_argument("--json", action="store_true", help="one JSON object per image")
    predict.set_defaults(func=cmd_predict)
    _register_files(sub)
    _register_reproduce(sub)


def _register_files(sub: Any) -> None:
    """export, bundle and report: files made from a run."""
    from core.export.export import FORMATS

    export = sub.add_parser("export", help="write a run's model for use outside the studio")
    export.add_argument("run", metavar="RUN", help=RUN_HELP)
    export.add_argument("--format", required=True, choices=list(FORMATS), help="the file format")
    export.add_argument(
        "--out", metavar="PATH", help="where to write it (default: the run's export/ folder)"
    )
    export.set_defaults(func=cmd_export)

    bundle = sub.add_parser("bundle", help="one zip with everything to reuse or reproduce a run")
    bundle.add_argument("run", metavar="RUN", help=RUN_HELP)
    bundle.add_argument("--out", metavar="PATH", help="the zip (default: in the run's folder)")
    bundle.set_defaults(func=cmd_bundle)

    page = sub.add_parser("report", help="a shareable HTML page of a run or of a comparison")
    which = page.add_mutually_exclusive_group(required=True)
    which.add_argument("run", metavar="RUN", nargs="?", help=RUN_HELP)
    which.add_argument(
        "--group",
        metavar="ID",
        help="a comparison: its group id, or the id of any of its runs (every strategy and seed)",
    )
    page.add_argument(
        "--out", metavar="PATH", help="the .html file (default: in the run's or studio's folder)"
    )
    page.set_defaults(func=cmd_report)


def _register_reproduce(sub: Any) -> None:
    reproduce = sub.add_parser("reproduce", help="train a bundle's config again, compare")
    reproduce.add_argument("source", metavar="BUNDLE_OR_RUN", help="a bundle zip, or a run id")
    reproduce.add_argument(
        "--dataset", metavar="DIR", help="where the same files are now, if they moved"
    )
    flags.add_run_flag(reproduce, "val_dir", help="the separate validation folder, if it moved")
    reproduce.add_argument("--quiet", action="store_true", help="print only the final JSON line")
    reproduce.set_defaults(func=cmd_reproduce)


def _predictions(loaded: Any, paths: list[str], top_k: int) -> list[dict[str, Any]]:
    """One entry per path: its top classes, or the error that kept it from being read."""
    from core.data.audio import UnreadableAudio
    from core.data.imaging import UnreadableImage
    from core.export import predict

    results: list[dict[str, Any]] = []
    for path in paths:
        try:
            image = predict.image_for(loaded, path)
            top = predict.top_k(loaded, [image], top_k)[0]
            results.append({"image": path, "top": top})
        except (UnreadableImage, UnreadableAudio, OSError) as exc:
            results.append({"image": path, "error": str(exc)})
    return results


def cmd_predict(args: argparse.Namespace) -> int:
    from core.export import predict
    from core.runs.store import Store

    loaded = predict.load(Store(args.home), args.model)
    results = _predictions(loaded, args.images, args.top_k)
    for entry in results:
        if args.json:
            print(json.dumps(entry))
        elif "error" in entry:
            print(f"{entry['image']}: error: {entry['error']}")
        else:
            ranked = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in entry["top"])
            print(f"{entry['image']}: {ranked}")
    return EXIT_BAD_INPUT if any("error" in entry for entry in results) else 0


def cmd_export(args: argparse.Namespace) -> int:
    from core.export import export
    from core.runs.store import Store

    made = export.export(Store(args.home), args.run, args.format, args.out)
    check = made.check
    print(
        f"{made.format}: {made.path} ({made.size_bytes / 1e6:.1f} MB), checked on "
        f"{check.images} validation images: largest probability difference "
        f"{check.max_difference:.2g} (tolerance {check.tolerance:g})",
        file=sys.stderr,
    )
    if made.quantisation is not None:
        print(made.quantisation.describe(), file=sys.stderr)
    print(json.dumps(dataclasses.asdict(made), default=str))
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from core.export import bundle
    from core.runs.store import Store

    made = bundle.write(Store(args.home), args.run, args.out)
    print(f"{made.path}: {len(made.files)} files, {made.size_bytes / 1e6:.1f} MB", file=sys.stderr)
    print(
        json.dumps({"path": str(made.path), "files": made.files, "fingerprint": made.fingerprint})
    )
    return 0


def _report_page(store: Any, args: argparse.Namespace) -> tuple[str, list[Any], Any]:
    """The HTML page, the runs it shows and where it goes by default."""
    from core.export import bundle
    from core.reports import comparison_report

    if args.group is not None:
        group_id, runs = comparison_report.group_runs(store, args.group)
        page = comparison_report.render(comparison_report.gather(store, runs, group_id))
        return page, runs, store.home / "reports" / f"comparison-{group_id}.html"
    run = common.run_or_fail(store, args.run)
    return bundle.report(store, run.id), [run], store.run_dir(run.id) / "report.html"


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.platform.fileio import atomic_write_text
    from core.runs.store import Store

    store = Store(args.home)
    page, runs, default = _report_page(store, args)
    target = Path(args.out) if args.out else default
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, page)
    print(f"{target}: {len(runs)} run(s), {len(page) / 1e6:.1f} MB", file=sys.stderr)
    print(json.dumps({"path": str(target), "runs": [r.id for r in runs]}))
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from core.export import reproduce
    from core.jobs import runs
    from core.runs.store import DONE, Store

    store = Store(args.home)
    try:
        plan = reproduce.plan(store, args.source, args.dataset, args.val_dir)
    except ValueError as exc:  # a bundle whose JSON or settings do not parse: not a Refusal
        raise CliError(str(exc)) from None  # (a ReproduceRefused is a ValueError too: same words)
    for line in plan.warnings:
        print(f"warning: {line}", file=sys.stderr, flush=True)
    run = common.accepted(
        runs.start_training(store, plan.config, owner=runs.CLI_OWNER, idle_seconds=CLI_IDLE_SECONDS)
    )
    if not args.quiet:
        print(f"run {run.id}: training {args.source} again", flush=True)
    common.follow(store, run.id, args.quiet)
    run = store.get(run.id)
    if run.status != DONE:
        raise CliError(run.error or f"the new run ended as {run.status}")
    outcome = reproduce.compare(plan, run.id, run.training_result)
    print(outcome.describe(), file=sys.stderr)
    print(json.dumps(dataclasses.asdict(outcome)), flush=True)
    return 0 if outcome.matches else EXIT_RUN_FAILED
