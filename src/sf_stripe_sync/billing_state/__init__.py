"""Stripe's billing state back in Salesforce: invoices, subscription and schedule status.

``settings`` (the ``[billing_state]`` section: object and field names), ``records`` (pure:
Stripe objects -> Salesforce values), ``salesforce_side`` (lookups and batched writes),
``pull`` (events through the stored cursor, and webhooks), ``status`` (the view for
people).
"""
