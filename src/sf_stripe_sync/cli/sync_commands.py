"""The ``sync``, ``cancel`` and ``status`` commands: settings, runtime, engine, summary.

Theory of operation: each handler loads settings (``--config``, ``--state-dir``), opens
a runtime (real systems, or the in-process sandboxes for the demo), runs the engine
with the options its command means, prints a summary and returns the exit code of
DESIGN 3: 0 all good, 1 some orders failed (the others still synced), 2 usage or
configuration error (raised as ``UsageError`` / ``ConfigError`` for ``cli.main``).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from sf_stripe_sync.cli import inputs
from sf_stripe_sync.cli.exits import EXIT_OK, failed_if
from sf_stripe_sync.core.dates import parse_as_of
from sf_stripe_sync.core.render import preview_document
from sf_stripe_sync.core.rules import SyncRules
from sf_stripe_sync.engine import RunOptions, RunReport
from sf_stripe_sync.errors import UsageError
from sf_stripe_sync.logs import configure_logging, progress_bar
from sf_stripe_sync.plan_file import (
    entry_json,
    load_plan,
    plan_document,
    stale_entries,
    to_apply,
    write_plan,
)
from sf_stripe_sync.preflight.run import require_ready
from sf_stripe_sync.run_results import RUN_RESULTS_FILE, run_document, write_run_results
from sf_stripe_sync.runtime import Runtime, open_runtime
from sf_stripe_sync.state.store import open_store, store_path
from sf_stripe_sync.summary import print_dry_run, print_summary


def _exit_code(report: RunReport) -> int:
    return failed_if(report.failed)


def run_sync(args: argparse.Namespace) -> int:
    configure_logging(args.log_format, verbose=args.verbose)
    settings = inputs.settings(args)
    if getattr(args, "enqueue", False):
        from sf_stripe_sync.cli.queue_commands import run_enqueue

        return run_enqueue(args, settings, inputs.sandbox(args))
    out: Path | None = getattr(args, "out", None)
    saved: Path | None = getattr(args, "plan", None)
    if out is not None and not args.dry_run:
        raise UsageError("--out writes the plan of a dry run: add --dry-run")
    if saved is not None and (args.dry_run or args.order or args.as_of):
        raise UsageError("--plan applies a saved plan as it is: no --dry-run, --order "
                         "or --as-of with it")
    as_of = inputs.as_of(args.as_of)
    if out is not None and as_of is None:
        as_of = datetime.now(UTC).replace(microsecond=0)
    options = RunOptions(order_ids=args.order, dry_run=args.dry_run, as_of=as_of,
                         mode="triggered" if args.order else "scheduled",
                         record_basis=out is not None)
    with open_runtime(settings, inputs.sandbox(args)) as rt:
        require_ready(rt)
        report = _apply_saved(rt, saved) if saved is not None else _run(rt, options, args)
        if out is not None:
            assert as_of is not None
            write_plan(plan_document(report, as_of=as_of, created_at=datetime.now(UTC)), out)
        _show(report, rt, args, command="sync")
    return _exit_code(report)


def _show(report: RunReport, rt: Runtime, args: argparse.Namespace, *, command: str) -> None:
    """Write ``run_results.json``, then print the summary (or the run as JSON)."""
    document = run_document(report, command=command, finished_at=datetime.now(UTC),
                            where=rt.describe)
    write_run_results(document, rt.settings.state_dir)
    if getattr(args, "format", "table") == "json":
        if report.dry_run:
            document["plans"] = preview_document(report.plans, report.labels)["orders"]
        json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif report.dry_run:
        print_dry_run(report, json_output=args.log_format == "json")
    else:
        print_summary(report, where=rt.describe, json_output=args.log_format == "json")


def _run(rt: Runtime, options: RunOptions, args: argparse.Namespace) -> RunReport:
    from sf_stripe_sync.catalog.context import price_resolver_for

    engine = rt.engine(price_resolver=price_resolver_for(rt))
    show_progress = not args.no_progress and args.log_format == "human"
    with progress_bar(enabled=show_progress) as advance:
        engine.progress = advance
        return engine.run(options)


def _apply_saved(rt: Runtime, path: Path) -> RunReport:
    """``sync --plan``: refuse a stale plan whole, else execute exactly its orders."""
    from sf_stripe_sync.catalog.context import price_resolver_for

    document = load_plan(path)
    entries = to_apply(document)
    as_of = parse_as_of(document["as_of"])
    ids = [str(e["order_id"]) for e in entries]
    fresh = rt.engine().run(RunOptions(order_ids=ids, dry_run=True, as_of=as_of,
                                       record_basis=True, mode="plan"))
    now = {o.order_id: entry_json(o) for o in fresh.outcomes}
    stale = stale_entries(entries, now)
    if stale:
        raise UsageError(f"the plan in {path} is stale, nothing was applied: "
                         + "; ".join(stale) + ". Run sync --dry-run --out again.")
    keys = {str(e["order_id"]): str(e.get("idempotency_key")) for e in entries}
    engine = rt.engine(price_resolver=price_resolver_for(rt))
    return engine.run(RunOptions(order_ids=ids, as_of=as_of, expected_keys=keys,
                                 mode="plan"))


def run_cancel(args: argparse.Namespace) -> int:
    configure_logging(args.log_format, verbose=args.verbose)
    settings = inputs.settings(args)
    with open_runtime(settings, inputs.sandbox(args)) as rt:
        require_ready(rt)
        asked = RunOptions(cancel_ids=[args.order_id], mode="cancel", dry_run=True)
        if args.dry_run or not (args.yes or not sys.stdin.isatty()):
            planned = rt.engine().run(asked)
            if args.dry_run:
                _show(planned, rt, args, command="cancel")
                return _exit_code(planned)
            if not _confirmed(planned, args.order_id, rt.settings.rules):
                print("cancel: nothing done", file=sys.stderr)
                return EXIT_OK
        report = rt.engine().run(RunOptions(cancel_ids=[args.order_id], mode="cancel"))
        _show(report, rt, args, command="cancel")
    return _exit_code(report)


def _confirmed(planned: RunReport, order_id: str, rules: SyncRules) -> bool:
    """Ask on the terminal before cancelling (``--yes`` or no terminal: not asked)."""
    plan = planned.outcomes[0].plan if planned.outcomes else None
    if plan is None or plan.operation.value != "cancel":
        return True  # nothing to cancel, or an error: the run reports it
    prompt = (f"Cancel Stripe schedule {plan.schedule_id} of order {order_id} "
              f"(Stripe account {plan.stripe_account}, invoice_now={rules.invoice_now}, "
              f"prorate={rules.prorate})? [y/N] ")
    print(prompt, end="", file=sys.stderr, flush=True)  # stdout may be JSON
    try:
        answer = input()
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def run_status(args: argparse.Namespace) -> int:
    settings = inputs.settings(args)
    path = store_path(settings.state_dir)
    if settings.state.url is None and not path.exists():
        raise UsageError(f"no state store at {path}: nothing has been synced with this "
                         "--state-dir yet")
    store = open_store(settings.state, settings.state_dir)
    try:
        document = store.status_document()
    finally:
        store.close()
    results = settings.state_dir / RUN_RESULTS_FILE
    if results.exists():
        try:
            document["last_run_results"] = json.loads(results.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            document["last_run_results"] = None
    if args.format == "json":
        json.dump(document, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        from sf_stripe_sync.summary import print_status

        print_status(document)
    return EXIT_OK
