"""The trigger endpoint Salesforce calls (``sf-stripe-sync serve``), health and metrics.

Theory of operation: ``app.build_app`` is a Starlette ASGI application served by
uvicorn. Salesforce (a Flow HTTP callout, Apex, or an Outbound Message) posts Order ids;
each request is authenticated (``signature``: HMAC over the raw body with a shared
secret and a 5-minute window; ``outbound``: the organization id), its ids validated,
then durably enqueued in a ``triggers.TriggerQueue``. Only then does it answer 202 (or
the SOAP ``<Ack>true</Ack>``), so an acknowledged id is never lost. ``runner.SyncRunner``,
a background thread, claims the queued ids in batches and syncs them through the same
engine as ``sync --order``. ``metrics`` exposes Prometheus counters and gauges.

Why Starlette + uvicorn: a small, well-kept ASGI toolkit whose request object gives the
exact raw body the signature is computed over, with a production server that is one
dependency away and a test story over real HTTP; nothing here needs a larger framework.
"""
