"""The ``sf-stripe-sync`` command line (``app.main``), a typed registry of commands.

Modules: ``app`` (the registry's order and ``main``), ``registry`` (``Command``,
``Group``, the parser built from them), ``options`` (shared options, declared once),
``exits`` (exit codes), ``inputs`` (settings, sandbox options and ``--as-of`` from a
parsed command line; output); one module per command group declaring its commands
(``preview``, ``sync``, ``worker``, ``sandbox``, ``catalog``, ``billing``, ``check``,
``serve``, ``demo``), each beside the ``*_commands`` module its handlers run;
``stripe_steps`` holds what the catalog and billing handlers share.
"""

from __future__ import annotations

from sf_stripe_sync.cli.app import COMMANDS, build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]
