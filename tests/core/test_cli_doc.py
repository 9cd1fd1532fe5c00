"""core.cli.doc: README.md's command-line block is the parser's --help, and goes stale loudly."""

from __future__ import annotations

import pytest

from core import cli
from core.cli import doc as cli_doc


def test_readme_block_is_the_current_help():
    cli_doc.check(cli_doc.README.read_text())  # StaleReadme: run `python -m core.cli.doc`


def test_every_command_and_train_flag_is_in_the_block():
    block = cli_doc.render()
    for name in cli.command_names():
        assert f"usage: python -m core {name} " in block
    for flag in ("--val-dir", "--augment-kind", "--val-fraction", "--finetune-epochs", "--quiet"):
        assert flag in block
    assert "(default: 10)" in block and "(default: head)" in block  # defaults from RunConfig


def test_a_new_flag_makes_the_readme_stale(monkeypatch):
    real = cli._parser

    def with_new_flag():
        parser = real()
        parser.add_argument("--planted", help="a flag the README does not know yet")
        return parser

    monkeypatch.setattr(cli, "_parser", with_new_flag)
    readme = cli_doc.README.read_text()
    with pytest.raises(cli_doc.StaleReadme, match="python -m core.cli.doc"):
        cli_doc.check(readme)
    refreshed = cli_doc.updated(readme)
    assert "--planted" in refreshed and refreshed.count(cli_doc.START) == 1
    cli_doc.check(refreshed)
    before, after = readme.split(cli_doc.START)[0], readme.split(cli_doc.END)[1]
    assert refreshed.startswith(before) and refreshed.endswith(after)  # only the block changes


def test_missing_markers_are_reported():
    with pytest.raises(cli_doc.StaleReadme, match="needs exactly one"):
        cli_doc.check("# a README without the block\n")


def test_main_check_and_write(tmp_path, monkeypatch, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{cli_doc.START}\nold\n{cli_doc.END}\n\nrest\n")
    monkeypatch.setattr(cli_doc, "README", readme)
    assert cli_doc.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert cli_doc.main([]) == 0
    assert cli_doc.main(["--check"]) == 0
    assert readme.read_text().startswith("intro\n\n") and readme.read_text().endswith("\n\nrest\n")
