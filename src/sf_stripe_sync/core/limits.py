"""Stripe's size limits, so that nothing the engine sends is refused for its size.

Theory of operation: Stripe refuses a request whose metadata has more than 50 keys, a
key longer than 40 characters (or with square brackets), a value longer than 500, or a
string longer than its parameter's published ``maxLength`` (a customer name 256, a
feature name 80 ...). Such a refusal would come after the engine had already written
something for the order (the customer), on every run. So the limits are kept here, in
the pure core, and applied before anything is sent:

* configured metadata keys are checked when the configuration is loaded
  (``metadata_key_problems``), counting the keys the engine adds itself;
* a mapped metadata value over 500 characters is cut with a visible marker
  (``fit_metadata_value``) or, by setting, refused as ``invalid_record`` (normalize);
* names and descriptions are cut to their limit with the same marker (``fit_text``).

The numbers are Stripe's (API reference "Metadata"; openapi spec3.json ``maxLength``);
a test holds them against the emulator's table generated from that spec.
"""

from __future__ import annotations

from collections.abc import Iterable

from sf_stripe_sync.core.metadata_keys import ENGINE_METADATA_KEYS

METADATA_MAX_KEYS = 50
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500
CUSTOMER_NAME_MAX = 256
CUSTOMER_DESCRIPTION_MAX = 5000
PRODUCT_NAME_MAX = 5000
PRODUCT_DESCRIPTION_MAX = 40000
FEATURE_NAME_MAX = 80
FEATURE_LOOKUP_KEY_MAX = 80
TRUNCATION_MARKER = "…[truncated]"

ENGINE_KEYS_PER_OBJECT = 5
"""The most of ``ENGINE_METADATA_KEYS`` any one object carries (a schedule)."""


def metadata_key_problems(keys: Iterable[str]) -> list[str]:
    """Why configured metadata keys would be refused by Stripe (empty: they are fine)."""
    wanted = list(keys)
    problems = [
        f"metadata key {key!r} is {len(key)} characters; Stripe allows at most "
        f"{METADATA_KEY_MAX}" for key in wanted if len(key) > METADATA_KEY_MAX]
    problems += [f"metadata key {key!r} contains a square bracket, which Stripe refuses"
                 for key in wanted if "[" in key or "]" in key]
    problems += [f"metadata key {key!r} is empty" for key in wanted if not key.strip()]
    problems += [f"metadata key {key!r} is written by the engine itself"
                 for key in wanted if key in ENGINE_METADATA_KEYS]
    room = METADATA_MAX_KEYS - ENGINE_KEYS_PER_OBJECT
    if len(set(wanted)) > room:
        problems.append(f"{len(set(wanted))} metadata keys are configured; with the "
                        f"{ENGINE_KEYS_PER_OBJECT} the engine adds, Stripe's limit of "
                        f"{METADATA_MAX_KEYS} keys per object leaves room for {room}")
    return problems


def fit_text(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else cut to fit with a marker."""
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER


def fit_metadata_value(value: str) -> str:
    return fit_text(value, METADATA_VALUE_MAX)
