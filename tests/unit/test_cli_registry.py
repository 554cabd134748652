"""Every registered command is in the parser, parses, answers ``--help``; names are unique."""

from __future__ import annotations

import argparse
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from sf_stripe_sync import __version__
from sf_stripe_sync.cli import COMMANDS, build_parser, main
from sf_stripe_sync.cli.exits import EXIT_USAGE
from sf_stripe_sync.cli.registry import Command, Deferred, find
from sf_stripe_sync.cli.registry import build_parser as build_from

NAMES = [c.full_name for c in COMMANDS]


def _sub_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _parser_of(command: Command) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in command.full_name.split():
        parser = _sub_parsers(parser)[word]
    return parser


def _required_argv(parser: argparse.ArgumentParser) -> list[str]:
    """Something for each required argument, so the command line parses."""
    argv: list[str] = []
    for action in parser._actions:
        if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
            if action.nargs in (None, "+"):
                argv.append("X1")
        elif action.required:
            argv += [action.option_strings[-1], "X1"]
    return argv


def test_no_two_commands_share_a_name() -> None:
    assert len(set(NAMES)) == len(NAMES)
    with pytest.raises(ValueError, match="two commands are named 'sync'"):
        sync = next(c for c in COMMANDS if c.full_name == "sync")
        build_from([*COMMANDS, sync], version=__version__, description="")


def test_the_parser_holds_exactly_the_registered_commands() -> None:
    found = []
    for name, sub in _sub_parsers(build_parser()).items():
        words = _sub_parsers(sub)
        found += [f"{name} {w}" for w in words] if words else [name]
    assert sorted(found) == sorted(NAMES)


@pytest.mark.parametrize("command", COMMANDS, ids=NAMES)
def test_each_registered_command_parses_back_to_its_entry(command: Command) -> None:
    argv = [*command.full_name.split(), *_required_argv(_parser_of(command))]
    args = build_parser().parse_args(argv)
    assert find(COMMANDS, args) is command


@pytest.mark.parametrize("command", COMMANDS, ids=NAMES)
def test_each_registered_command_runs_a_function_that_exists(command: Command) -> None:
    handler = command.handler
    target = handler.resolve() if isinstance(handler, Deferred) else handler
    parameters = inspect.signature(target).parameters
    assert len(parameters) == 1, f"{command.full_name}: {target} takes {list(parameters)}"


def test_a_misspelt_deferred_command_function_is_named() -> None:
    with pytest.raises(LookupError, match="no command function 'run_sink'"):
        Deferred("sf_stripe_sync.cli.sync_commands", "run_sink").resolve()


@pytest.mark.parametrize("command", COMMANDS, ids=NAMES)
def test_each_registered_command_answers_help(
        command: Command, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([*command.full_name.split(), "--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: sf-stripe-sync {command.full_name} ")


def test_the_group_help_lists_the_group_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["catalog", "--help"])
    out = capsys.readouterr().out
    for command in COMMANDS:
        if command.group is not None and command.group.name == "catalog":
            assert f"{command.name}" in out and command.help in out


def test_a_shared_option_is_declared_alike_everywhere() -> None:
    """The sandbox flags come from one declaration: same help wherever they appear."""
    helps = {}
    for command in COMMANDS:
        for action in _parser_of(command)._actions:
            if "--salesforce-sandbox" in action.option_strings:
                helps[command.full_name] = action.help
    assert len(helps) >= 10
    assert len(set(helps.values())) == 1


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "nope"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("sf-stripe-sync: error: catalog: argument catalog: invalid choice")
    assert err.count("\n") == 1


@pytest.mark.parametrize("module", ["sf_stripe_sync", "sf_stripe_sync.cli"])
def test_the_package_runs_as_a_module(module: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0
    assert done.stdout.strip() == f"sf-stripe-sync {__version__}"


@pytest.mark.parametrize("argv", [["sync"], ["preview", "--source", "none.json"]],
                         ids=["sync", "preview"])
def test_a_bad_as_of_is_refused_alike_by_every_command(
        argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--as-of", "nope", "--state-dir", str(tmp_path)]) == EXIT_USAGE
    assert capsys.readouterr().err == ("sf-stripe-sync: error: --as-of 'nope' is not a date "
                                       "(YYYY-MM-DD) or datetime\n")
