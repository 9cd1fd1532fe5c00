"""The CLI package's conventions: each run flag is declared once (flags.RUN_FLAGS), every
command that takes one gets RunConfig's default, every command has a handler, and a Refusal
raised anywhere in a handler is one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from core import cli
from core.cli import common, data, flags
from core.platform.refusal import Refusal
from core.runs.config import RunConfig

CLI_DIR = Path(cli.__file__).parent
FIELDS = {f.name for f in dataclasses.fields(RunConfig)}
# `runs list --dataset/--strategy` filter the runs already made: they set no run setting
FILTERS = {"runs list"}


def _commands() -> dict[str, argparse.ArgumentParser]:
    """Every command's parser, and the actions of `runs` as 'runs ACTION'."""
    found = {}
    for name, parser in _subparsers(cli._parser()).items():
        found[name] = parser
        for action, inner in _subparsers(parser).items():
            found[f"{name} {action}"] = inner
    return found


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _expected_default(setting: str, command: str) -> object:
    if setting == "weights":  # None: $VGG16_WEIGHTS decides; bench times random weights
        return "none" if command == "bench" else None
    return RunConfig.default(setting)


def test_each_run_flag_has_one_table_entry_and_one_declaration():
    table = flags.RUN_FLAGS
    assert set(table) <= FIELDS  # keyed by the RunConfig setting it sets
    names = [flag.flag for flag in table.values()]
    assert len(names) == len(set(names))
    sources = {path.name: path.read_text() for path in CLI_DIR.glob("*.py")}
    for name in names:
        written = {file: text.count(f'"{name}"') for file, text in sources.items()}
        if name == "--strategy":
            written["admin.py"] -= 1  # the filter of `runs list`
        assert {f: n for f, n in written.items() if n} == {"flags.py": 1}, name


def test_every_command_taking_a_run_setting_gets_the_table_flag_and_runconfigs_default():
    seen = set()
    for command, parser in _commands().items():
        for action in parser._actions:
            if command in FILTERS or action.dest not in flags.RUN_FLAGS:
                continue
            if not action.option_strings:
                continue
            seen.add(action.dest)
            assert action.option_strings == [flags.RUN_FLAGS[action.dest].flag], command
            assert action.default == _expected_default(action.dest, command), command
    assert seen == set(flags.RUN_FLAGS)  # no table entry is left unused


def test_no_command_declares_a_run_setting_outside_the_table():
    table_flags = {flag.flag for flag in flags.RUN_FLAGS.values()}
    for command, parser in _commands().items():
        for action in parser._actions:
            if command in FILTERS or not action.option_strings:
                continue
            if action.dest in FIELDS - {"dataset"}:  # reproduce --dataset: where files moved
                assert action.dest in flags.RUN_FLAGS, (command, action.option_strings)
            if set(action.option_strings) & table_flags:
                assert action.dest in flags.RUN_FLAGS, (command, action.option_strings)


def test_flag_types_parse_to_runconfigs_types():
    argv = ["train", "DIR", "--image-size", "64", "--val-fraction", "0.2", "--augment"]
    args = cli._parser().parse_args(argv)
    assert (args.image_size, args.val_fraction, args.augment) == (64, 0.2, True)
    for setting, flag in flags.RUN_FLAGS.items():
        default = RunConfig.default(setting)
        if flag.from_config and default is not None:
            assert flag.type is type(default), setting


def test_every_command_has_a_handler():
    names = cli.command_names()
    assert {"inspect", "train", "compare", "runs", "worker", "bench", "export"} <= set(names)
    for name, parser in _commands().items():
        assert callable(parser.get_default("func")) or " " in name, name


def test_a_refusal_from_any_handler_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path):
    class Full(Refusal):
        pass

    def refuse(_args):
        raise Full("the disk is full: free some space and try again")

    monkeypatch.setattr(data, "cmd_inspect", refuse)
    assert cli.main(["inspect", str(tmp_path)]) == cli.EXIT_BAD_INPUT == 2
    assert capsys.readouterr().err == "error: the disk is full: free some space and try again\n"
    assert issubclass(common.CliError, Refusal)


def test_a_fault_is_not_a_refusal(monkeypatch, capsys, tmp_path):
    def crash(_args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(data, "cmd_inspect", crash)
    assert cli.main(["inspect", str(tmp_path)]) == cli.EXIT_RUN_FAILED
    assert capsys.readouterr().err == "error: ZeroDivisionError: a bug\n"


@pytest.mark.parametrize("setting", ["image_size", "batch_size", "seed"])
def test_bounds_come_from_runconfig(setting):
    bounds = RunConfig.bounds(setting)
    low, high = bounds.low, bounds.high
    assert low < high
    over = dataclasses.replace(RunConfig(dataset="."), **{setting: high + 1})
    assert any(str(high) in problem for problem in over.problems())
