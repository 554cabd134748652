"""Catalog and customer access: what Stripe Billing keeps beside subscription schedules.

Theory of operation: Salesforce is the source of the catalog (Product2 and
PricebookEntry) and Stripe of what changes on its own side; both directions are
get-or-create matched by the Stripe id fields, and every write compares first, so a
change made by one direction finds the other already in step and stops there (nothing
bounces). Modules:

* ``settings``: the ``[catalog]`` and ``[portal]`` configuration sections;
* ``mapping``: pure translation of Salesforce records into desired Stripe objects;
* ``stripe_api``: answers as plain data; requests go through the account's
  ``stripe.session.StripeSession`` (the sync gateway's: pacing, retries, errors);
* ``options``: the few settings the catalog steps read (``CatalogOptions``);
* ``salesforce_catalog``: reads and writes of Product2, PricebookEntry, Account, Contact;
* ``push``: Salesforce -> Stripe products and prices (price changes make new prices);
* ``resolver``: the engine hook that resolves a missing price through ``push``;
* ``pull``: Stripe -> Salesforce from the events list (stored cursor) or a webhook;
* ``webhooks``: signature verification and a small loopback endpoint;
* ``entitlements``: product features from a Product2 field, active entitlements;
* ``features``: the preview's per-phase feature lookup keys (pure, no Stripe);
* ``portal``: customer portal configurations per role and portal sessions.
"""
