"""Files shipped with the package: the demo org, the demo Stripe catalog, the example config.

Theory of operation: in an installed wheel they live in ``sf_stripe_sync/bundled/``
(``setup.py`` copies them there from ``fixtures/`` and ``config/`` at build time); in a
source checkout (an editable install) they are read where the repository keeps them.
``bundled_path`` returns whichever exists, so the demo and ``--stripe-emulator`` work from
any working directory.
"""

from __future__ import annotations

from pathlib import Path

from sf_stripe_sync.errors import UsageError

DEMO_ORG = "demo-org.json"
DEMO_CATALOG = "demo-stripe-catalog.json"
EXAMPLE_CONFIG = "sf-stripe-sync.example.toml"
_HOMES = {DEMO_ORG: "fixtures", DEMO_CATALOG: "fixtures", EXAMPLE_CONFIG: "config"}
_PACKAGE = Path(__file__).resolve().parent


def bundled_path(name: str) -> Path:
    """Where the bundled file ``name`` is, installed or in the checkout."""
    packaged = _PACKAGE / "bundled" / name
    if packaged.is_file():
        return packaged
    checkout = _PACKAGE.parents[1] / _HOMES[name] / name
    if checkout.is_file():
        return checkout
    raise UsageError(f"{name} is not bundled with this install (looked in {packaged.parent} "
                     f"and {checkout.parent})")
