"""A faithful local Stripe API emulator for tests, demos and rehearsals.

The official ``stripe`` SDK talks to it over loopback HTTP
(``StripeClient("sk_test_...", base_addresses={"api": emu.url})``). See ``emulator`` for
the Python API, ``server`` for the CLI, and each module's docstring for the Stripe
behaviour it reproduces.
"""

from sf_stripe_sync.sandbox.stripe_emulator.emulator import StripeEmulator
from sf_stripe_sync.sandbox.stripe_emulator.errors import ApiError
from sf_stripe_sync.sandbox.stripe_emulator.faults import FaultConfig

__all__ = ["ApiError", "FaultConfig", "StripeEmulator"]
