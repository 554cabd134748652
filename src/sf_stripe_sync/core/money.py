"""Money: ``Decimal`` amounts and integer minor units, by each currency's exponent.

Theory of operation (DESIGN 2, "Money"): amounts travel as ``Decimal`` from Salesforce
(JSON numbers become ``Decimal(str(value))``, never float arithmetic) and become integer
minor units only at the edge, using the ISO 4217 exponent as Stripe applies it (USD 2,
JPY 0, KWD 3). An amount that does not fit the currency's exponent (5.505 USD) is an
error, never rounded: billing a different amount than Salesforce shows would be a guess.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ZERO_DECIMAL_CURRENCIES = frozenset(
    [
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
        "xaf", "xof", "xpf",
    ]
)
THREE_DECIMAL_CURRENCIES = frozenset(
    [
        "bhd", "jod", "kwd", "omr", "tnd",
    ]
)
TWO_DECIMAL_CURRENCIES = frozenset(
    [
        "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd", "bdt",
        "bgn", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad", "cdf", "chf", "cny",
        "cop", "crc", "cve", "czk", "dkk", "dop", "dzd", "egp", "etb", "eur", "fjd", "fkp", "gbp",
        "gel", "gip", "gmd", "gtq", "gyd", "hkd", "hnl", "hrk", "htg", "huf", "idr", "ils", "inr",
        "isk", "jmd", "kes", "kgs", "khr", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad",
        "mdl", "mkd", "mmk", "mnt", "mop", "mro", "mru", "mur", "mvr", "mwk", "mxn", "myr", "mzn",
        "nad", "ngn", "nio", "nok", "npr", "nzd", "pab", "pen", "pgk", "php", "pkr", "pln", "qar",
        "ron", "rsd", "rub", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sll", "sos", "srd",
        "std", "stn", "svc", "szl", "thb", "tjs", "top", "try", "ttd", "twd", "tzs", "uah", "usd",
        "uyu", "uzs", "ves", "wst", "xcd", "xcg", "yer", "zar", "zmw",
    ]
)
"""Stripe's two-decimal currencies (ISK, HUF, TWD are two-decimal in Stripe's API)."""


def currency_exponent(currency: str) -> int | None:
    """Digits after the decimal point in ``currency``, or None for an unknown currency."""
    if not isinstance(currency, str):
        return None
    code = currency.strip().lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    if code in TWO_DECIMAL_CURRENCIES:
        return 2
    return None


def decimal_from_json(value: object) -> Decimal:
    """A JSON number (or numeric string) as an exact ``Decimal``; ValueError otherwise.

    ``Decimal(str(0.1))`` is ``Decimal('0.1')``, the number Salesforce sent, unlike
    ``Decimal(0.1)`` which carries the float's binary error.
    """
    if type(value) is int:  # the same Decimal as from its text, without the text
        return Decimal(value)
    if type(value) is float:
        amount = Decimal(float.__repr__(value))
    elif isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int | float | str):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {value!r}") from exc
    else:
        raise ValueError(f"not a number: {value!r}")
    if not amount.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return amount


def _exponent_or_raise(currency: str) -> int:
    exponent = currency_exponent(currency)
    if exponent is None:
        raise ValueError(f"unknown currency {currency!r}")
    return exponent


def to_minor_units(amount: Decimal | int, currency: str) -> int:
    """``Decimal('5.50'), 'usd'`` -> 550. Too many decimals for the currency -> ValueError."""
    exponent = _exponent_or_raise(currency)
    value = decimal_from_json(amount)
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ValueError(
            f"{value} {currency.upper()} has more than {exponent} decimal places"
        )
    return int(scaled)


def from_minor_units(minor: int, currency: str) -> Decimal:
    """550, 'usd' -> ``Decimal('5.50')``."""
    exponent = _exponent_or_raise(currency)
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise ValueError(f"minor units must be an int, got {minor!r}")
    return Decimal(minor).scaleb(-exponent)


def rounded_minor_units(value: object, currency: str) -> int | None:
    """A total as Salesforce shows it, in minor units rounded half-up; None when blank
    or not a number (totals are compared, never billed, so no precision is refused)."""
    exponent = currency_exponent(currency)
    if value is None or exponent is None:
        return None
    try:
        amount = decimal_from_json(value)
    except ValueError:
        return None
    return int(amount.scaleb(exponent).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def round_half_up(value: Decimal) -> int:
    """The nearest whole number of minor units, halves away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
