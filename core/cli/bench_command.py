"""`bench`: the command that runs the measurements of core/cli/bench.py and prints their report."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from core.cli import bench, common, flags
from core.platform import settings
from core.runs.config import RunConfig


def register(sub: Any) -> None:
    command = sub.add_parser("bench", help="measure extraction and fine-tuning speed")
    flags.add_run_flag(command, "image_size")
    command.add_argument(
        "--images",
        type=int,
        default=256,
        metavar="N",
        help="synthetic images (default: %(default)s)",
    )
    flags.add_run_flag(command, "batch_size")
    # synthetic pictures: random weights measure the same speed without a download
    flags.add_run_flag(
        command, "weights", default="none", help="imagenet | none | PATH (default: %(default)s)"
    )
    flags.add_run_flag(command, "precision")
    command.add_argument("--json", action="store_true", help="only the JSON report")
    command.add_argument(
        "--engines",
        action="store_true",
        help="instead: time a small comparison (2 strategies x 2 seeds) on the local worker "
        "and on a private 2-CPU Ray cluster",
    )
    command.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    if args.engines:
        return _bench_engines(args)
    common.weights_setting(args.weights)  # a missing file is bad input, said in one line
    min_size, min_batch = RunConfig.bounds("image_size").low, RunConfig.bounds("batch_size").low
    if args.image_size < min_size or args.images < 2 or args.batch_size < min_batch:
        raise common.CliError(
            f"bench needs --image-size >= {min_size}, --images >= 2 and --batch-size >= {min_batch}"
        )
    report = bench.run(
        image_size=args.image_size,
        images=args.images,
        batch_size=args.batch_size,
        weights=args.weights,
        precision=args.precision,
        home=settings.studio_home(args.home),
    )
    if not args.json:
        print(bench.describe(report), file=sys.stderr)
    print(json.dumps(report))
    return 0


def _bench_engines(args: argparse.Namespace) -> int:
    from core.jobs import engines

    if not engines.ray_installed():
        raise common.CliError(f"bench --engines needs Ray: pip install '{engines.RAY_REQUIREMENT}'")
    with tempfile.TemporaryDirectory(prefix="studio-bench-engines-") as folder:
        report = bench.compare_engines(Path(folder))
    if not args.json:
        print(bench.describe_engines(report), file=sys.stderr)
    print(json.dumps(report))
    return 0
