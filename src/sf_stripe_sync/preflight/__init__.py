"""Preflight: is this configuration ready to sync, before anything is written?

Theory of operation: ``run.preflight`` checks a runtime (settings, the logged-in
Salesforce connection, the Stripe key each account's gateway would use) and returns a
``report.PreflightReport`` listing every problem at once. ``sf-stripe-sync check`` prints
it; ``sync``, ``cancel`` and the catalog commands call ``run.require_ready`` first and stop
with exit code 2 before any Salesforce or Stripe write when it holds a problem, so a
configuration fault (a missing key, a publishable key, a missing field) is never
written into an Order as if the order were wrong. ``schema`` is the table of fields
the org must hold, shared with the SFDX metadata test.
"""
