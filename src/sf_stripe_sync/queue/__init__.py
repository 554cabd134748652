"""Sync jobs on a PostgreSQL task queue (procrastinate): many workers, many hosts.

Theory of operation: the queue lives in the same PostgreSQL database as the shared state
store (``state.url``). Work arrives three ways and always becomes one job per contract:

* ``sync --enqueue`` and the periodic task (``queue.schedule``, the scheduled sync)
  read what changed since the watermark, plus the orders of unfinished journal entries,
  and defer one ``sync_contract`` job per (Stripe account, contract); the watermark then
  moves, because the jobs are durable in the database (``intake``);
* ``enqueue_orders(settings, order_ids)`` (the trigger endpoint) durably defers one
  ``route_orders`` job at once, without calling Salesforce; a worker reads those orders
  and defers their per-contract jobs;
* a job that found its contract busy, or failed for a transient reason, is retried by
  procrastinate after a wait (``queue.retry_wait_seconds``).

Each ``sync_contract`` job carries the lock ``contract:<account>:<contract>`` (the very
name of the store's contract lease), so procrastinate never runs two jobs of one
contract at once, on any worker; its queueing lock adds the order ids, so the same work
is never queued twice. Inside, the job is an ordinary engine run over those orders,
under the store's contract lease (the second guard, which also covers a plain ``sync``
run on some other host). ``worker`` runs jobs (``worker``); every Stripe request of
every worker reserves its account's next slot in the store (``shared_ratelimit``), so
each account's rate limit holds across all of them while the accounts run in parallel.
"""
