"""The machine's commands: `doctor` (what this machine and studio home are, for a bug report),
`cache prune` (free the decoded-image and feature caches) and `gpu-check` (a tiny run must
use the GPU in the expected precision; `make gpu-check`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from core.cli.common import EXIT_RUN_FAILED


def register(sub: Any) -> None:
    """Add `doctor`, `cache` and `gpu-check` to the CLI's subparsers."""
    doctor = sub.add_parser(
        "doctor", help="what this machine and studio home are (versions, GPUs, caches)"
    )
    doctor.add_argument("--json", action="store_true", help="the facts as one JSON object")
    doctor.set_defaults(func=cmd_doctor)

    cache = sub.add_parser("cache", help="the studio's caches: prune to free disk space")
    action = cache.add_subparsers(dest="cache_action", required=True, metavar="ACTION")
    prune = action.add_parser(
        "prune",
        help="remove decoded-image and feature caches (never while a run is active)",
    )
    prune.add_argument(
        "--older-than",
        type=float,
        default=None,
        metavar="DAYS",
        help="only entries unused for DAYS days (default: all)",
    )
    prune.add_argument(
        "--keep-runs",
        action="store_true",
        help="keep the entries of the images that runs still in the studio trained on",
    )
    prune.add_argument("--json", action="store_true", help="print the outcome as JSON")
    prune.add_argument("--home", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    cache.set_defaults(func=cmd_cache)

    gpu = sub.add_parser(
        "gpu-check", help="train a tiny run on the GPU; fail unless it used it as expected"
    )
    gpu.add_argument("--json", action="store_true", help="the outcome as one JSON object")
    gpu.set_defaults(func=cmd_gpu_check)


def cmd_doctor(args: argparse.Namespace) -> int:
    from core.jobs import doctor
    from core.platform import settings

    facts = doctor.gather(settings.home_path(args.home))
    print(json.dumps(facts.to_json()) if args.json else facts.text())
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from core.jobs import caches
    from core.runs.store import Store

    # a busy cache or a negative age is a Refusal: main() says it and exits 2
    outcome = caches.prune(Store(args.home), args.older_than, args.keep_runs)
    if args.json:
        removed = [
            {"kind": e.kind, "path": str(e.path), "bytes": e.size_bytes} for e in outcome.removed
        ]
        print(
            json.dumps(
                {"freed_bytes": outcome.freed_bytes, "kept": outcome.kept, "removed": removed}
            )
        )
    else:
        print(outcome.describe())
    return 0


def cmd_gpu_check(args: argparse.Namespace) -> int:
    from core.jobs import gpu_check

    outcome = gpu_check.check()
    print(json.dumps(outcome.to_json()) if args.json else outcome.text())
    return 0 if outcome.passed else EXIT_RUN_FAILED
