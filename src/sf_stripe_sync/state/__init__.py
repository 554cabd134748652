"""The SQLite state store: journal, watermarks, id map, contract state, leases, runs.

Use ``sf_stripe_sync.state.store.StateStore``; the other modules are its parts.
"""
