"""Benchmark: Stripe requests per order by operation, Salesforce API calls per 1,000 orders.

Run: ``.venv/bin/python benchmarks/call_economy.py`` (not part of the test suite;
``--orders 1000``, ``--per-kind 100``).

Part 1 syncs, for each operation, a generated org whose changed orders are all of that
kind (``generated_org``; the baseline is synced first, untimed) and divides the Stripe
requests the emulator received by the orders. Variants of create show what a customer
unknown to Stripe (one Account per order: search + create customer) and an order-level
discount (one coupon) add. Part 2 syncs the mixed 1,000-order org (60% create, 20%
amend, 10% replace, 10% noop) and counts the org's API calls by kind: describes (once
per run, whatever the size: one composite/batch call), reads (a lone query or a further
page of one, and ``composite`` calls of up to 5 queries: the two change queries, the
contract prefetches) and write-back calls: composite calls of up to 5 sObject
Collections (200 records each; updates of several sObjects share collections, the
Sync_Log__c upserts have their own; mid-run only full ones) and any lone collection
update or insert. No latency or rate limit is injected: these are counts, not timings.
Price reads (``GET /v1/prices/{id}``: each price a run's lines use, read once per run
and cached) are printed per run beside the per-order figures.
"""

from __future__ import annotations

import argparse
import sys

from generated_org import GeneratedOrg, Mix, generate
from rig import Measurement, running


def run(generated: GeneratedOrg) -> Measurement:
    with running(generated, state_on_tmpfs=True) as rig:
        rig.prepare()
        return rig.measure(concurrency=4, rate_limit=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--per-kind", type=int, default=100)
    args = parser.parse_args(argv)
    n = args.per_kind
    print(f"command: {sys.executable} {' '.join(sys.argv)}\n")
    scenarios = [
        ("create (known customer, known prices, no discount)", "create",
         generate(Mix(create=n, amend=0, replace=0, noop=0))),
        ("create, customer not yet in Stripe", "create",
         generate(Mix(create=n, amend=0, replace=0, noop=0), known_customers=False,
                  orders_per_account=1)),
        ("create with an order-level discount", "create",
         generate(Mix(create=n, amend=0, replace=0, noop=0), discount_percent=10.0)),
        ("amend (new order on a synced contract)", "amend",
         generate(Mix(create=0, amend=n, replace=0, noop=0))),
        ("replace (synced order's items changed)", "replace",
         generate(Mix(create=0, amend=0, replace=n, noop=0))),
        ("noop (re-read, nothing billed changed)", "noop",
         generate(Mix(create=0, amend=0, replace=0, noop=n))),
    ]
    rows = []
    for label, kind, generated in scenarios:
        m = run(generated)
        if m.counts[kind] != n or m.counts["failed"]:
            print(f"unexpected outcomes for {label}: {m.counts}")
            return 1
        rows.append((label, m))
        print(f"  {label}: {m.stripe_requests} requests for {n} orders", flush=True)
    print(f"\nStripe requests per order ({n} orders each)\n")
    print(f"{'operation':<52} {'req/order':>9}  requests by endpoint")
    for label, m in rows:
        by_path = ", ".join(f"{path} {count / n:g}"
                            for path, count in sorted(m.stripe_by_path.items()))
        print(f"{label:<52} {m.stripe_requests / n:>9.2f}  {by_path or '-'}")
    print("\nprice reads per run (GET /v1/prices/{id}, once per price per run): "
          + ", ".join(f"{kind} {m.stripe_by_path.get('GET /v1/prices/{id}', 0)}"
                      for (_, m), (_, kind, _) in zip(rows, scenarios, strict=True)))

    mixed = run(generate(args.orders))
    kinds = mixed.salesforce_by_kind
    c = mixed.counts
    print(f"\nSalesforce API calls for one scheduled run of {args.orders} changed orders "
          f"(create {c['create']}, amend {c['amend']}, replace {c['replace']}, noop "
          f"{c['noop']}, failed {c['failed']})\n")
    queries, batched = kinds["query"], kinds["composite-query"]
    updates, inserts, composite = kinds["update"], kinds["insert"], kinds["composite"]
    per_run = kinds["describe"] + kinds["other"]
    print(f"{'describe (once per run)':<38} {kinds['describe']:>5}")
    print(f"{'queries, one a call (and query pages)':<38} {queries:>5}")
    print(f"{'queries, up to 5 a composite call':<38} {batched:>5}")
    print(f"{'composite write-back (5 coll/call)':<38} {composite:>5}")
    print(f"{'collection updates (200/call)':<38} {updates:>5}")
    print(f"{'collection inserts (Sync_Log__c)':<38} {inserts:>5}")
    print(f"{'other':<38} {kinds['other']:>5}")
    print(f"{'total':<38} {mixed.salesforce_calls:>5}")
    work = queries + batched + composite + updates + inserts
    print(f"\nreads + write-back per {args.orders} orders: {work} "
          f"(target: at most 10 with the describe); with the per-run describes: "
          f"{work + per_run}")
    print(f"Stripe requests for the mixed run: {mixed.stripe_requests} "
          f"({mixed.stripe_requests / max(1, sum(c.values())):.2f} per order)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
