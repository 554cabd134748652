"""The route table: which handler and which stripe.params TypedDict serve each endpoint.

Theory of operation: a route is an HTTP method, a path pattern with at most one ``{id}``,
the SDK TypedDict that types the call, the resource kind of the answer (for ``expand``)
and whether the answer is a list. Matching is exact; the first route that matches wins,
so ``/v1/customers/search`` is listed before ``/v1/customers/{id}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from stripe import params as sp
from stripe.params import billing as bl
from stripe.params import billing_portal as bp
from stripe.params import entitlements as ep
from stripe.params import test_helpers as th

from sf_stripe_sync.sandbox.stripe_emulator.resources import (
    account,
    catalog,
    coupons,
    customers,
    entitlements,
    events,
    invoices,
    meters,
    payment_methods,
    portal,
    schedules,
    subscriptions,
    test_clocks,
    webhook_endpoints,
)
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import Context
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

Handler = Callable[[Context], JSON]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    params: type
    kind: str
    listed: bool = False

    @property
    def mutates(self) -> bool:
        return self.method in ("POST", "DELETE")


def _route(method: str, template: str, handler: Handler, params: type, kind: str,
           listed: bool = False) -> Route:
    regex = "^" + re.escape(template).replace(r"\{id\}", r"(?P<id>[^/]+)") + "$"
    return Route(method, re.compile(regex), handler, params, kind, listed)


def _nested(method: str, regex: str, handler: Handler, params: type, kind: str,
            listed: bool = False) -> Route:
    """A route whose ``id`` group spans several path segments (the handler splits it)."""
    return Route(method, re.compile(regex), handler, params, kind, listed)


def _settled(handler: Handler) -> Handler:
    """``handler`` after every schedule caught up with its time, when the emulator bills
    without test clocks (clocked schedules catch up as their clock moves)."""

    def wrapped(ctx: Context) -> JSON:
        if ctx.store.bill_without_test_clock:
            schedules.refresh_all(ctx)
        return handler(ctx)

    return wrapped


CATALOG_ACCESS_ROUTES: tuple[Route, ...] = (
    _route("GET", "/v1/account", account.retrieve_current, sp.AccountRetrieveCurrentParams,
           "account"),
    _route("GET", "/v1/events", _settled(events.list_all), sp.EventListParams, "event",
           listed=True),
    _route("GET", "/v1/events/{id}", events.retrieve, sp.EventRetrieveParams, "event"),
    _route("POST", "/v1/entitlements/features", entitlements.create_feature,
           ep.FeatureCreateParams, "entitlements.feature"),
    _route("GET", "/v1/entitlements/features", entitlements.list_features,
           ep.FeatureListParams, "entitlements.feature", listed=True),
    _route("GET", "/v1/entitlements/features/{id}", entitlements.retrieve_feature,
           ep.FeatureRetrieveParams, "entitlements.feature"),
    _route("POST", "/v1/entitlements/features/{id}", entitlements.update_feature,
           ep.FeatureUpdateParams, "entitlements.feature"),
    _route("GET", "/v1/entitlements/active_entitlements", entitlements.list_active_entitlements,
           ep.ActiveEntitlementListParams, "entitlements.active_entitlement", listed=True),
    _route("POST", "/v1/products/{id}/features", entitlements.attach_feature,
           sp.ProductFeatureCreateParams, "product_feature"),
    _route("GET", "/v1/products/{id}/features", entitlements.list_product_features,
           sp.ProductFeatureListParams, "product_feature", listed=True),
    _nested("DELETE", r"^/v1/products/(?P<id>[^/]+/features/[^/]+)$",
            entitlements.detach_feature, sp.ProductFeatureDeleteParams, "product_feature"),
    _route("POST", "/v1/billing_portal/configurations", portal.create_configuration,
           bp.ConfigurationCreateParams, "billing_portal.configuration"),
    _route("GET", "/v1/billing_portal/configurations", portal.list_configurations,
           bp.ConfigurationListParams, "billing_portal.configuration", listed=True),
    _route("GET", "/v1/billing_portal/configurations/{id}", portal.retrieve_configuration,
           bp.ConfigurationRetrieveParams, "billing_portal.configuration"),
    _route("POST", "/v1/billing_portal/configurations/{id}", portal.update_configuration,
           bp.ConfigurationUpdateParams, "billing_portal.configuration"),
    _route("POST", "/v1/billing_portal/sessions", portal.create_session,
           bp.SessionCreateParams, "billing_portal.session"),
    _route("POST", "/v1/payment_methods", payment_methods.create,
           sp.PaymentMethodCreateParams, "payment_method"),
    _route("GET", "/v1/payment_methods/{id}", payment_methods.retrieve,
           sp.PaymentMethodRetrieveParams, "payment_method"),
    _route("POST", "/v1/payment_methods/{id}/attach", payment_methods.attach,
           sp.PaymentMethodAttachParams, "payment_method"),
    _route("POST", "/v1/payment_methods/{id}/detach", payment_methods.detach,
           sp.PaymentMethodDetachParams, "payment_method"),
    _route("GET", "/v1/customers/{id}/payment_methods", payment_methods.list_for_customer,
           sp.CustomerPaymentMethodListParams, "payment_method", listed=True),
)

_CLOCK = "test_helpers.test_clock"



BILLING_ROUTES: tuple[Route, ...] = (
    _route("POST", "/v1/test_helpers/test_clocks", test_clocks.create,
           th.TestClockCreateParams, _CLOCK),
    _route("GET", "/v1/test_helpers/test_clocks", test_clocks.list_all,
           th.TestClockListParams, _CLOCK, listed=True),
    _route("GET", "/v1/test_helpers/test_clocks/{id}", test_clocks.retrieve,
           th.TestClockRetrieveParams, _CLOCK),
    _route("DELETE", "/v1/test_helpers/test_clocks/{id}", test_clocks.delete,
           th.TestClockDeleteParams, _CLOCK),
    _route("POST", "/v1/test_helpers/test_clocks/{id}/advance", test_clocks.advance,
           th.TestClockAdvanceParams, _CLOCK),
    _route("POST", "/v1/billing/meters", meters.create, bl.MeterCreateParams,
           "billing.meter"),
    _route("GET", "/v1/billing/meters", meters.list_all, bl.MeterListParams,
           "billing.meter", listed=True),
    _route("GET", "/v1/billing/meters/{id}", meters.retrieve, bl.MeterRetrieveParams,
           "billing.meter"),
    _route("GET", "/v1/invoices", _settled(invoices.list_all), sp.InvoiceListParams,
           "invoice", listed=True),
    _route("GET", "/v1/invoices/{id}", _settled(invoices.retrieve),
           sp.InvoiceRetrieveParams, "invoice"),
    _route("GET", "/v1/invoices/{id}/lines", _settled(invoices.list_lines),
           sp.InvoiceListLinesParams, "invoice", listed=True),
    _route("POST", "/v1/invoices/{id}/pay", invoices.pay, sp.InvoicePayParams, "invoice"),
    _route("POST", "/v1/webhook_endpoints", webhook_endpoints.create,
           sp.WebhookEndpointCreateParams, "webhook_endpoint"),
    _route("GET", "/v1/webhook_endpoints", webhook_endpoints.list_all,
           sp.WebhookEndpointListParams, "webhook_endpoint", listed=True),
    _route("GET", "/v1/webhook_endpoints/{id}", webhook_endpoints.retrieve,
           sp.WebhookEndpointRetrieveParams, "webhook_endpoint"),
    _route("POST", "/v1/webhook_endpoints/{id}", webhook_endpoints.update,
           sp.WebhookEndpointUpdateParams, "webhook_endpoint"),
    _route("DELETE", "/v1/webhook_endpoints/{id}", webhook_endpoints.delete,
           sp.WebhookEndpointDeleteParams, "webhook_endpoint"),
    _route("GET", "/v1/subscriptions", _settled(subscriptions.list_all),
           sp.SubscriptionListParams, "subscription", listed=True),
    _route("GET", "/v1/subscriptions/{id}", _settled(subscriptions.retrieve),
           sp.SubscriptionRetrieveParams, "subscription"),
)

ROUTES: tuple[Route, ...] = (
    _route("GET", "/v1/customers/search", customers.search, sp.CustomerSearchParams,
           "customer", listed=True),
    _route("POST", "/v1/customers", customers.create, sp.CustomerCreateParams, "customer"),
    _route("GET", "/v1/customers", customers.list_all, sp.CustomerListParams, "customer",
           listed=True),
    _route("GET", "/v1/customers/{id}", customers.retrieve, sp.CustomerRetrieveParams,
           "customer"),
    _route("POST", "/v1/customers/{id}", customers.update, sp.CustomerUpdateParams, "customer"),
    _route("DELETE", "/v1/customers/{id}", customers.delete, sp.CustomerDeleteParams,
           "customer"),
    _route("GET", "/v1/products/search", catalog.search_products, sp.ProductSearchParams,
           "product", listed=True),
    _route("POST", "/v1/products", events.recorded("product", catalog.create_product,
                                                   creates=True),
           sp.ProductCreateParams, "product"),
    _route("GET", "/v1/products", catalog.list_products, sp.ProductListParams, "product",
           listed=True),
    _route("GET", "/v1/products/{id}", catalog.retrieve_product, sp.ProductRetrieveParams,
           "product"),
    _route("POST", "/v1/products/{id}", events.recorded("product", catalog.update_product,
                                                        creates=False),
           sp.ProductUpdateParams, "product"),
    _route("GET", "/v1/prices/search", catalog.search_prices, sp.PriceSearchParams, "price",
           listed=True),
    _route("POST", "/v1/prices", events.recorded("price", catalog.create_price, creates=True),
           sp.PriceCreateParams, "price"),
    _route("GET", "/v1/prices", catalog.list_prices, sp.PriceListParams, "price", listed=True),
    _route("GET", "/v1/prices/{id}", catalog.retrieve_price, sp.PriceRetrieveParams, "price"),
    _route("POST", "/v1/prices/{id}", events.recorded("price", catalog.update_price,
                                                      creates=False),
           sp.PriceUpdateParams, "price"),
    _route("POST", "/v1/coupons", coupons.create, sp.CouponCreateParams, "coupon"),
    _route("GET", "/v1/coupons", coupons.list_all, sp.CouponListParams, "coupon", listed=True),
    _route("GET", "/v1/coupons/{id}", coupons.retrieve, sp.CouponRetrieveParams, "coupon"),
    _route("POST", "/v1/coupons/{id}", coupons.update, sp.CouponUpdateParams, "coupon"),
    _route("DELETE", "/v1/coupons/{id}", coupons.delete, sp.CouponDeleteParams, "coupon"),
    _route("POST", "/v1/subscription_schedules", schedules.create,
           sp.SubscriptionScheduleCreateParams, "subscription_schedule"),
    _route("GET", "/v1/subscription_schedules", schedules.list_all,
           sp.SubscriptionScheduleListParams, "subscription_schedule", listed=True),
    _route("GET", "/v1/subscription_schedules/{id}", schedules.retrieve,
           sp.SubscriptionScheduleRetrieveParams, "subscription_schedule"),
    _route("POST", "/v1/subscription_schedules/{id}", schedules.update,
           sp.SubscriptionScheduleUpdateParams, "subscription_schedule"),
    _route("POST", "/v1/subscription_schedules/{id}/cancel", schedules.cancel,
           sp.SubscriptionScheduleCancelParams, "subscription_schedule"),
    _route("POST", "/v1/subscription_schedules/{id}/release", schedules.release,
           sp.SubscriptionScheduleReleaseParams, "subscription_schedule"),
    *CATALOG_ACCESS_ROUTES,
    *BILLING_ROUTES,
)


def match(method: str, path: str) -> tuple[Route, str] | None:
    for route in ROUTES:
        if route.method != method:
            continue
        found = route.pattern.match(path)
        if found:
            return route, found.groupdict().get("id") or ""
    return None
