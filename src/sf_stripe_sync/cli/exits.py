"""The exit codes of every command (DESIGN 3), defined here and nowhere else in the CLI.

0: all good. 1: some orders (or catalog, billing records) failed while the others went
through, or a run-level ``SyncError``. 2: a usage or configuration error, one line on
stderr and no traceback (the preflight's "not ready" is this code too). 130: Ctrl-C.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def failed_if(failed: object) -> int:
    """``EXIT_SOME_FAILED`` when ``failed`` is truthy (failures, errors), else ``EXIT_OK``."""
    return EXIT_SOME_FAILED if failed else EXIT_OK
