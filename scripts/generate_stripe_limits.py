"""Generate the emulator's string-length table from Stripe's published OpenAPI spec.

Usage (offline: the spec is a file you checked out of github:stripe/openapi):

    git -C OPENAPI_CHECKOUT show HEAD:openapi/spec3.json > /tmp/spec3.json
    .venv/bin/python scripts/generate_stripe_limits.py /tmp/spec3.json

It reads every request parameter (form body and query) of the operations under the
resource families the emulator serves or may serve (``FAMILIES``), keeps each string's
``maxLength`` as a tree mirroring the parameter's shape (``"*"`` stands for a list
element or a free hash key), and writes
``src/sf_stripe_sync/sandbox/stripe_emulator/limits_table.py``. Parameters that are
newer than the spec given are added from ``SUPPLEMENT`` (values taken from the pinned
SDK's parameter documentation or Stripe's reference), and say so in the table.
Nothing here runs at test time: the generated module is committed.
"""

from __future__ import annotations

import json
import pprint
import sys
from pathlib import Path
from typing import Any

FAMILIES = (
    "account", "billing/meters", "billing_portal", "coupons", "customers", "entitlements",
    "events", "invoiceitems", "invoices", "payment_methods", "prices", "products",
    "promotion_codes",
    "subscription_items", "subscription_schedules", "subscriptions", "test_helpers/test_clocks",
)

# Endpoints newer than the spec this table was generated from. Each leaf is the
# ``maxLength`` Stripe publishes for it (entitlements and meters: API reference;
# lookup_key: the pinned SDK's FeatureCreateParams docstring, "up to 80 characters").
_LIST = {"starting_after": 5000, "ending_before": 5000, "expand": {"*": 5000}}
SUPPLEMENT: dict[str, dict[str, Any]] = {
    "POST /v1/billing/meters": {"display_name": 250, "event_name": 100,
                                "customer_mapping": {"event_payload_key": 100},
                                "value_settings": {"event_payload_key": 100},
                                "expand": {"*": 5000}},
    "GET /v1/billing/meters": _LIST,
    "GET /v1/billing/meters/{}": {"expand": {"*": 5000}},
    "POST /v1/entitlements/features": {"name": 80, "lookup_key": 80, "expand": {"*": 5000}},
    "POST /v1/entitlements/features/{}": {"name": 80, "expand": {"*": 5000}},
    "GET /v1/entitlements/features": {"lookup_key": 5000, "starting_after": 5000,
                                       "ending_before": 5000, "expand": {"*": 5000}},
    "GET /v1/entitlements/features/{}": {"expand": {"*": 5000}},
    "GET /v1/entitlements/active_entitlements": {"customer": 5000, "starting_after": 5000,
                                                 "ending_before": 5000,
                                                 "expand": {"*": 5000}},
    "POST /v1/products/{}/features": {"entitlement_feature": 5000, "expand": {"*": 5000}},
    "GET /v1/products/{}/features": {"starting_after": 5000, "ending_before": 5000,
                                     "expand": {"*": 5000}},
    # webhook endpoints (added when the emulator began to serve them; Stripe's reference
    # gives their strings the common 5000)
    "POST /v1/webhook_endpoints": {"url": 5000, "description": 5000, "api_version": 5000,
                                   "enabled_events": {"*": 5000}, "expand": {"*": 5000}},
    "POST /v1/webhook_endpoints/{}": {"url": 5000, "description": 5000,
                                      "enabled_events": {"*": 5000}, "expand": {"*": 5000}},
    "GET /v1/webhook_endpoints": _LIST,
    "GET /v1/webhook_endpoints/{}": {"expand": {"*": 5000}},
}

Tree = int | dict[str, Any] | None


def _merge(a: Tree, b: Tree) -> Tree:
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, int) and isinstance(b, int):
        return max(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        merged = dict(a)
        for key, value in b.items():
            merged[key] = _merge(merged.get(key), value)
        return {k: v for k, v in merged.items() if v is not None}
    return a if isinstance(a, dict) else b  # a hash/list alternative wins over a bare string


def tree(schema: dict[str, Any]) -> Tree:
    """The maxLength tree of one parameter schema (None: nothing limited inside)."""
    result: Tree = None
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
        result = _merge(result, tree(alternative))
    if schema.get("type") == "string" and "maxLength" in schema and "enum" not in schema:
        result = _merge(result, int(schema["maxLength"]))
    props = schema.get("properties")
    if isinstance(props, dict):
        children = {name: tree(sub) for name, sub in props.items()}
        kept = {k: v for k, v in children.items() if v is not None}
        if kept:
            result = _merge(result, kept)
    for key in ("items", "additionalProperties"):
        sub = schema.get(key)
        if isinstance(sub, dict):
            inner = tree(sub)
            if inner is not None:
                result = _merge(result, {"*": inner})
    return result if result != {} else None


def _template(path: str) -> str:
    parts = ["{}" if p.startswith("{") else p for p in path.split("/")]
    return "/".join(parts)


def operation_tree(op: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for param in op.get("parameters", []):
        if param.get("in") == "query":
            sub = tree(param.get("schema", {}))
            if sub is not None:
                found[param["name"]] = sub
    content = op.get("requestBody", {}).get("content", {})
    form = content.get("application/x-www-form-urlencoded", {}).get("schema", {})
    for name, sub_schema in form.get("properties", {}).items():
        sub = tree(sub_schema)
        if sub is not None:
            found[name] = sub
    return found


def build(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for path, ops in spec["paths"].items():
        if not any(path == f"/v1/{family}" or path.startswith(f"/v1/{family}/")
                   for family in FAMILIES):
            continue
        for method, op in ops.items():
            if method not in ("get", "post", "delete"):
                continue
            found = operation_tree(op)
            if found:
                table[f"{method.upper()} {_template(path)}"] = found
    for key, extra in SUPPLEMENT.items():
        table.setdefault(key, extra)
    return dict(sorted(table.items()))


HEADER = '''"""String-length limits of Stripe's request parameters (generated; do not edit).

Generated by ``scripts/generate_stripe_limits.py`` from Stripe's published OpenAPI
description (github:stripe/openapi ``openapi/spec3.json``, info.version {version}),
plus the supplement that script documents for endpoints newer than that spec.
``LIMITS`` maps ``"METHOD /v1/path/{{}}"`` to a tree shaped like the parameters: a leaf
is the parameter's ``maxLength``; ``"*"`` stands for any list element or hash key.
"""

from typing import Any

SPEC_VERSION = {version!r}

LIMITS: dict[str, dict[str, Any]] = '''


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    version = str(spec.get("info", {}).get("version", "unknown"))
    table = build(spec)
    out = Path(__file__).resolve().parents[1] / (
        "src/sf_stripe_sync/sandbox/stripe_emulator/limits_table.py")
    body = pprint.pformat(table, width=95, sort_dicts=True)
    out.write_text(HEADER.format(version=version) + body + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(table)} endpoints, spec {version})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
