"""One module per Stripe resource; each function takes a ``Context`` and returns the
JSON object Stripe would return, raising ``ApiError`` where Stripe would refuse."""
