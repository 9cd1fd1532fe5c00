"""`python -m core`: the command-line contract other tools rely on.

    inspect DIR [--json]
    sample NAME [--per-class N] write a sample dataset and print its folder
    train DIR [options]        progress on stdout; the LAST line is one JSON object
    compare DIR [--strategies A,B] [--seeds N] [--json]   mean ± std over seeds, a paired test
    lr-find DIR [--strategy S] [--json]   learning-rate range test: prints the suggested rate
    advise DIR                 the measured strategy advice (linear probe), as JSON
    train/compare/worker --engine ray [--ray-address auto|local|HOST:PORT]  on a Ray cluster
    predict MODEL_OR_RUN IMAGE... [--top-k 3] [--json]
    export RUN --format keras|savedmodel|tflite|tflite-int8|onnx [--out PATH]
    bundle RUN [--out PATH]    one zip: model, labels, config, manifest, versions, report
    report RUN | --group ID [--out PATH]   a shareable HTML page of a run or a comparison
    reproduce BUNDLE_OR_RUN    train the same config on the same files, compare the result
    bench [--image-size PX] [--images N] [--precision P] [--json]
    runs [list|rename|tag|delete]  list runs (filters, --json); name, tag or delete one
    stop RUN / resume RUN
    worker                     the worker loop (started for you by train and by the app)

Bad input exits non-zero with a one-line reason on stderr, never a traceback.

How the package is built (add a command the same way):

- One module per command group, listed in GROUPS: data (inspect, sample), training (train,
  compare, lr-find, advise), take_away (predict, export, bundle, report, reproduce),
  bench_command (bench; its measurements are bench.py), admin (runs, stop, resume), worker,
  doctor (doctor, cache, gpu-check).
- Each exposes `register(sub) -> None`: it adds its commands to `sub` (the top-level parser's
  subparsers; --help lists them in the order they are added) and gives each one
  `set_defaults(func=handler)`. A handler takes the parsed arguments and returns the exit code.
  main() only builds the parser from GROUPS and calls `args.func(args)`.
- A new group (say `doctor`): core/cli/doctor.py with register(sub) and its handlers, then its
  name in GROUPS. tests/core/test_cli_flags.py checks that every command has a handler.
- A flag several commands take is declared once, in core/cli/flags.py: a run setting through
  flags.RUN_FLAGS (flag -> RunConfig field; the default and bounds are RunConfig's), the
  dataset argument, the per-phase flags and the engine flags through their add_* functions.
- What the handlers share (exit codes, scanning a folder, queueing and following a run) is in
  core/cli/common.py.
- A handler says no by raising a Refusal (core.platform.refusal; common.CliError is one):
  main() prints `error: <its sentence>` on stderr and exits EXIT_BAD_INPUT (2). A Refusal from
  core (DatasetError, ExportRefused, a returned runs.Refused, ...) needs no conversion: let it
  through. Anything else that escapes is one `error: Type: message` line and EXIT_RUN_FAILED (1).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.cli import admin, bench_command, common, data, doctor, take_away, training, worker
from core.cli.common import EXIT_BAD_INPUT, EXIT_RUN_FAILED, CliError
from core.cli.training import result_line
from core.platform.refusal import Refusal

__all__ = ["EXIT_BAD_INPUT", "EXIT_RUN_FAILED", "CliError", "command_names", "main", "result_line"]

# the command groups, in the order --help lists them
GROUPS = (data, training, take_away, bench_command, admin, worker, doctor)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__.split("\n")[0])
    parser.add_argument("--home", help="studio home folder (default: $STUDIO_HOME or .studio)")
    _add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return parser


def _add_commands(sub: Any) -> None:
    for group in GROUPS:
        group.register(sub)
    for command in sub.choices.values():
        common.home_after_command(command)


def command_names() -> list[str]:
    """Every command, in the order --help lists them."""
    sub = argparse.ArgumentParser().add_subparsers()
    _add_commands(sub)
    return list(sub.choices)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except Refusal as exc:  # CliError, and everything else the studio refuses
        print(f"error: {exc.words}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the contract: one line, never a traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
