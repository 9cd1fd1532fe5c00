"""Commands that look after runs already made: runs (list, rename, tag, delete), stop, resume."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core.cli import common
from core.cli.common import RUN_HELP, CliError


def register(sub: Any) -> None:
    _register_runs(sub)
    for name, handler in (("stop", cmd_stop), ("resume", cmd_resume)):
        command = sub.add_parser(name, help=f"{name} a run")
        command.add_argument("run", metavar="RUN", help=RUN_HELP)
        command.set_defaults(func=handler)


def _register_runs(sub: Any) -> None:
    """`runs` lists (the default) and manages runs: rename, tag, delete."""
    runs = sub.add_parser("runs", help="list, rename, tag or delete runs (default: list)")
    runs.set_defaults(func=cmd_runs)
    action = runs.add_subparsers(dest="runs_action", metavar="ACTION")
    _register_list(action)
    rename = action.add_parser("rename", help="give a run a display name (its id stays)")
    rename.add_argument("run", metavar="RUN", help=RUN_HELP)
    rename.add_argument("name", metavar="NAME", help='the new name ("" removes it)')
    tag = action.add_parser("tag", help="add or remove free-text tags")
    tag.add_argument("run", metavar="RUN", help=RUN_HELP)
    tag.add_argument("--add", action="append", default=[], metavar="TAG", help="repeatable")
    tag.add_argument("--remove", action="append", default=[], metavar="TAG", help="repeatable")
    delete = action.add_parser("delete", help="delete a finished run and its files")
    delete.add_argument("run", metavar="RUN", help=RUN_HELP)
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    for command in action.choices.values():
        common.home_after_command(command)


def _register_list(action: Any) -> None:
    from core.runs.store import ACTIVE, FINISHED

    listing = action.add_parser("list", help="list runs, newest first, optionally filtered")
    listing.add_argument("--dataset", metavar="NAME", help="only runs on this dataset folder name")
    listing.add_argument("--strategy", metavar="KEY", help="only this strategy (or probe)")
    listing.add_argument("--tag", action="append", default=[], metavar="TAG", help="repeatable")
    listing.add_argument(
        "--status",
        choices=[*ACTIVE, *FINISHED],
        metavar="STATUS",
        help=f"only runs in this state: {', '.join([*ACTIVE, *FINISHED])}",
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per run")


def cmd_runs(args: argparse.Namespace) -> int:
    from core.jobs import worker
    from core.runs.store import Store

    store = Store(args.home)
    worker.reap(store)
    action = getattr(args, "runs_action", None) or "list"
    return RUNS_ACTIONS[action](store, args)


def _runs_list(store: Any, args: argparse.Namespace) -> int:
    from core.jobs import run_admin
    from core.reports import report

    wanted = run_admin.RunFilter(
        datasets=(args.dataset,) if getattr(args, "dataset", None) else (),
        strategies=(args.strategy,) if getattr(args, "strategy", None) else (),
        tags=tuple(getattr(args, "tag", ())),
        statuses=(args.status,) if getattr(args, "status", None) else (),
    )
    for run in run_admin.filter_runs(store.list(limit=100_000), wanted):
        if getattr(args, "json", False):
            print(json.dumps(_run_json(run)))
            continue
        scores = " ".join(
            f"{name} {value:.3f}" if isinstance(value, float) else f"{name} -"
            for name, value in (("test_acc", run.test_accuracy), ("val_acc", run.val_accuracy))
        )
        tags = f"  [{', '.join(run.tags)}]" if run.tags else ""
        print(f"{run.id}  {run.status:<11} {scores}  {report.run_title(run)}{tags}")
    return 0


def _run_json(run: Any) -> dict[str, Any]:
    """`runs list --json`: one object per run (its keys are a stable interface for scripts)."""
    from core.reports import report

    return {
        "run_id": run.id,
        "name": run.display_name,
        "title": report.run_title(run),
        "status": run.status,
        "strategy": run.strategy,
        "task": run.config.task,
        "weights": report.weights_label(run),
        "image_size": run.config.image_size,
        "dataset": run.dataset,
        "tags": list(run.tags),
        "test_accuracy": run.test_accuracy,
        "val_accuracy": run.val_accuracy,
        "group_id": run.group_id,
        "created": run.created,
    }


def _runs_rename(store: Any, args: argparse.Namespace) -> int:
    from core.jobs import run_admin
    from core.reports import report

    run_id = common.run_or_fail(store, args.run).id
    run = common.accepted(run_admin.rename(store, run_id, args.name))
    print(f"{run.id}  {report.run_title(run)}")
    return 0


def _runs_tag(store: Any, args: argparse.Namespace) -> int:
    from core.jobs import run_admin

    if not (args.add or args.remove):
        raise CliError("say which tags to --add or --remove")
    run = common.run_or_fail(store, args.run)
    for tag in args.add:
        run = common.accepted(run_admin.add_tag(store, run.id, tag))
    for tag in args.remove:
        run = common.accepted(run_admin.remove_tag(store, run.id, tag))
    print(f"{run.id}  tags: {', '.join(run.tags) or '(none)'}")
    return 0


def _runs_delete(store: Any, args: argparse.Namespace) -> int:
    from core.jobs import run_admin
    from core.reports import report

    run = common.run_or_fail(store, args.run)
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError(f"deleting {run.id} removes its files: add --yes to confirm")
        answer = input(f"Delete {report.run_title(run)} ({run.id}) and its files? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted", file=sys.stderr)
            return 0
    print(common.accepted(run_admin.delete(store, run.id)).describe())
    return 0


RUNS_ACTIONS = {
    "list": _runs_list,
    "rename": _runs_rename,
    "tag": _runs_tag,
    "delete": _runs_delete,
}


def cmd_stop(args: argparse.Namespace) -> int:
    from core.runs.store import Store

    store = Store(args.home)
    print(store.request_stop(common.run_or_fail(store, args.run).id).status)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from core.jobs import worker
    from core.runs.store import Store

    store = Store(args.home)
    worker.reap(store)
    try:
        run = worker.resume(store, common.run_or_fail(store, args.run).id)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(f"{run.id} {run.status}")
    return 0
