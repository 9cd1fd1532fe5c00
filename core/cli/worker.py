"""`worker`: the worker loop (started for you by the run commands and by the app)."""

from __future__ import annotations

import argparse
from typing import Any

from core.cli import flags
from core.jobs.worker import IDLE_SECONDS


def register(sub: Any) -> None:
    worker = sub.add_parser("worker", help="execute queued runs (started automatically)")
    worker.add_argument(
        "--idle-seconds",
        type=float,
        default=IDLE_SECONDS,
        metavar="S",
        help="exit after S seconds with nothing queued (default: %(default)s)",
    )
    worker.add_argument("--once", action="store_true", help="exit when the queue is empty")
    flags.add_engine_arguments(worker)
    worker.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    import logging

    from core.jobs import worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # a worker is local unless told otherwise ($STUDIO_RAY_ADDRESS is for what queues runs)
    engine = flags.engine_from_args(args) if args.engine or args.ray_address else None
    worker.serve(args.home, idle_seconds=args.idle_seconds, once=args.once, engine=engine)
    return 0
