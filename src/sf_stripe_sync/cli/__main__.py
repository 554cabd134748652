"""``python -m sf_stripe_sync.cli``: the ``sf-stripe-sync`` command."""

import sys

from sf_stripe_sync.cli.app import main

sys.exit(main())
