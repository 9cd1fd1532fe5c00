"""Commands about datasets: inspect a folder, write a sample one."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core.cli import common, flags
from core.cli.common import EXIT_BAD_INPUT, CliError


def register(sub: Any) -> None:
    inspect = sub.add_parser("inspect", help="scan a dataset folder")
    flags.add_dataset_arguments(inspect)
    inspect.add_argument("--json", action="store_true", help="print the summary as JSON")
    inspect.set_defaults(func=cmd_inspect)

    sample = sub.add_parser("sample", help="write a sample dataset, print its folder")
    sample.add_argument("name", metavar="NAME", help="digits (offline), or an online sample id")
    sample.add_argument(
        "--per-class",
        type=int,
        default=None,
        metavar="N",
        help="Keras samples: at most N training images per class (default: all)",
    )
    sample.set_defaults(func=cmd_sample)


def cmd_inspect(args: argparse.Namespace) -> int:
    found = common.scan_or_fail(args.dir, args.val_dir, args.home)
    if args.json:
        print(json.dumps(found.summary()))
        return 0 if found.ok else EXIT_BAD_INPUT
    print(
        f"{found.root}: {len(found.items)} {found.media.noun}s, {len(found.classes)} classes "
        f"({found.layout} layout)"
    )
    for name, count in found.counts().items():
        print(f"  {name}: {count}")
    for file, reason in found.unreadable:
        print(f"  unreadable: {file}: {reason}")
    for line in found.warnings:
        print(f"warning: {line}")
    for line in found.errors:
        print(f"error: {line}")
    return 0 if found.ok else EXIT_BAD_INPUT


def cmd_sample(args: argparse.Namespace) -> int:
    from core.data import samples
    from core.data.keras_datasets import old_layout_note

    try:
        folder = samples.prepare(args.name, args.home, args.per_class)
    except ValueError as exc:  # an unknown sample or a cap it cannot take (plain ValueErrors)
        raise CliError(str(exc)) from None
    if note := old_layout_note(folder):  # a Keras sample written before test/ existed
        print(f"note: {note}", file=sys.stderr)
    print(folder)  # last: the Data page reads the folder from the last line
    return 0
