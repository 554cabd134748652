"""A faithful local Stripe API emulator for tests, demos and rehearsals.

The official ``stripe`` SDK talks to it over loopback HTTP
(``StripeClient("sk_test_...", base_addresses={"api": emu.url})``). ``emulator`` holds
the Python API, ``server`` the HTTP side, ``cli`` the ``sandbox stripe`` command, ``api`` the
request pipeline; each module's docstring states the Stripe behaviour it reproduces.

Decisions where Stripe's behaviour had to be chosen or could not be reproduced:

* A phase without ``end_date`` or ``duration`` lasts one billing period of its longest
  price interval, as Stripe does; there is no open-ended phase, whatever
  ``end_behavior`` says. With ``release`` the schedule turns ``released`` once that
  period ends (``released_subscription`` set); with ``cancel`` it turns ``completed``.
* A request whose idempotency key is still in flight gets 409, type
  ``idempotency_error``, code ``idempotency_key_in_use``, ``Stripe-Should-Retry: true``;
  the SDK raises ``APIError`` (http_status 409), which callers should retry.
* Parameter validation failures and injected faults are not saved under the key (Stripe
  saves results only once execution begins); business-rule refusals are saved and replay.
* 429 ``rate_limit`` carries no ``Stripe-Should-Retry``; 429 ``lock_timeout`` and
  injected 500s carry ``true``; other 4xx carry ``false``.
* ``price_data`` on phase items, ``from_subscription``, promotion codes and existing
  discount ids are refused with a clear 400 rather than half-emulated (``price_data`` on
  ``add_invoice_items`` makes an inline one-time price, as Stripe does).
* Billing (invoices, subscription status, their events) runs for customers on a test
  clock as it advances (``resources.billing_clock``); with ``bill_without_test_clock``
  it also follows the emulator's own clock. Invoices are drafted, finalized and
  collected in one instant; no taxes, no smart retries, no meter events (metered items
  bill zero usage); a declining card (``pm_card_chargeCustomerFail``) or no payment
  method fails the charge. Webhook endpoints on loopback get the events they want,
  signed (``webhooks``).
* Only ``sk_test_`` / ``rk_test_`` keys are accepted; refused keys are masked in errors.
"""

from sf_stripe_sync.sandbox.stripe_emulator.emulator import StripeEmulator
from sf_stripe_sync.sandbox.stripe_emulator.errors import ApiError
from sf_stripe_sync.sandbox.stripe_emulator.faults import FaultConfig

__all__ = ["ApiError", "FaultConfig", "StripeEmulator"]
