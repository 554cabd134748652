"""The command registry: each command a typed entry, and the parser built from them.

Theory of operation: a ``Command`` is a name, a help line, the function that declares
its arguments and the handler that runs it (a ``Namespace`` in, an exit code out). A
command of a group (``catalog push``) names its ``Group``; the group's sub-parser is
made when its first command is added. ``build_parser`` walks the entries in order, so
``--help`` lists the commands as the registry does, and refuses two entries with one
name. ``find`` maps a parsed ``Namespace`` back to its entry through the very dests
the parser set (``command``, then the group's name), so nothing is looked up by string
outside the registry. A handler is usually ``Deferred``: the function that runs the
command, named by module and attribute and imported only when the command runs, so
building the parser (and ``--help``) loads none of the commands' dependencies; the
registry's test resolves every ``Deferred`` handler, so a misspelt name fails the suite.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

PROG = "sf-stripe-sync"

Handler = Callable[[argparse.Namespace], int]
AddArguments = Callable[[argparse.ArgumentParser], None]


class UsageParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are ``UsageError`` (one line, exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        from sf_stripe_sync.errors import UsageError

        # ``main`` prints "sf-stripe-sync: error: ..." once; name only the subcommand here.
        command = self.prog.removeprefix(PROG).strip()
        hint = f" (see {self.prog} --help)"
        raise UsageError(f"{command}: {message}{hint}" if command else f"{message}{hint}")


@dataclass(frozen=True)
class Deferred:
    """A handler imported when its command runs: ``module.function(args) -> exit code``."""

    module: str
    function: str

    def resolve(self) -> Handler:
        """The function itself (``LookupError`` when the module lacks it)."""
        target = getattr(importlib.import_module(self.module), self.function, None)
        if not callable(target):
            raise LookupError(f"{self.module} has no command function {self.function!r}")
        return cast(Handler, target)

    def __call__(self, args: argparse.Namespace) -> int:
        return self.resolve()(args)


@dataclass(frozen=True)
class Group:
    """Commands that share a first word: ``catalog``, ``billing``, ``sandbox``."""

    name: str
    help: str


@dataclass(frozen=True)
class Command:
    name: str
    """The word after ``sf-stripe-sync`` (after the group's word in a group)."""
    help: str
    add_arguments: AddArguments
    handler: Handler
    group: Group | None = None

    @property
    def full_name(self) -> str:
        """How it is typed: ``sync``, ``catalog push``."""
        return self.name if self.group is None else f"{self.group.name} {self.name}"


def build_parser(commands: Iterable[Command], *, version: str,
                 description: str) -> argparse.ArgumentParser:
    """The parser of every command, in the registry's order."""
    parser = UsageParser(prog=PROG, description=description)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=UsageParser)
    groups: dict[str, Any] = {}
    seen: set[str] = set()
    for command in commands:
        if command.full_name in seen:
            raise ValueError(f"two commands are named {command.full_name!r}")
        seen.add(command.full_name)
        where = sub
        if command.group is not None:
            where = groups.get(command.group.name) or _add_group(sub, command.group, groups)
        command.add_arguments(where.add_parser(command.name, help=command.help))
    return parser


def _add_group(sub: Any, group: Group, groups: dict[str, Any]) -> Any:
    parser = sub.add_parser(group.name, help=group.help)
    groups[group.name] = parser.add_subparsers(dest=group.name, required=True,
                                               parser_class=UsageParser)
    return groups[group.name]


def find(commands: Sequence[Command], args: argparse.Namespace) -> Command:
    """The entry ``args`` was parsed for (the parser's ``command`` and group dests)."""
    first = str(args.command)
    for command in commands:
        if command.group is None and command.name == first:
            return command
        if command.group is not None and command.group.name == first and (
                getattr(args, first, None) == command.name):
            return command
    raise LookupError(f"no command {first!r} is registered")
