"""Stripe's events list read forward from a stored cursor, page by page, oldest first.

Theory of operation: Stripe lists events newest first. The cursor is the id of the last
event applied, kept per Stripe account and kind in ``CatalogMemory`` (the catalog's and
the billing state's cursors live side by side). With a cursor, pages of
``ending_before=<cursor>`` walk forward in time, each turned oldest first; without one
(first run), or when Stripe no longer knows the cursor's event (events are kept 30
days: ``resource_missing`` on the first page), every retained event is read newest
first and handed out oldest first in pages of the same size. The caller applies a page,
then ``save``s its last event id, so a crash re-applies at most one page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

from stripe.params import EventListParams

from sf_stripe_sync.catalog.memory import CatalogMemory
from sf_stripe_sync.catalog.stripe_api import as_dict
from sf_stripe_sync.errors import TerminalError
from sf_stripe_sync.stripe.session import StripeSession

log = logging.getLogger(__name__)
Event = dict[str, Any]


class EventPages:
    def __init__(self, stripe: StripeSession, memory: CatalogMemory, *, kind: str,
                 types: Sequence[str], page_size: int) -> None:
        self.stripe = stripe
        self.memory = memory
        self.kind = kind
        self.types = list(types)
        self.page_size = page_size

    def cursor(self) -> str | None:
        return self.memory.get(self.stripe.account_name, self.kind, "cursor")

    def save(self, event_id: str) -> None:
        self.memory.put(self.stripe.account_name, self.kind, "cursor", event_id)

    def _page(self, **extra: Any) -> Any:
        params: EventListParams = {"types": self.types, "limit": self.page_size}
        params.update(extra)  # type: ignore[typeddict-item]
        return self.stripe.call("events.list", partial(self.stripe.client.v1.events.list,
                                                       params=params))

    def _after(self, cursor: str) -> Iterator[list[Event]]:
        while True:
            page = self._page(ending_before=cursor)
            events = [as_dict(e) for e in reversed(page.data)]
            if events:
                yield events
                cursor = str(events[-1]["id"])
            if not page.has_more or not page.data:
                return

    def everything(self) -> list[Event]:
        """Every retained event, oldest first."""
        newest_first: list[Event] = []
        starting_after: str | None = None
        while True:
            page = self._page(**({"starting_after": starting_after} if starting_after else {}))
            newest_first.extend(as_dict(e) for e in page.data)
            if not page.has_more or not page.data:
                return list(reversed(newest_first))
            starting_after = page.data[-1].id

    def _chunks(self, events: list[Event]) -> Iterator[list[Event]]:
        for start in range(0, len(events), self.page_size):
            yield events[start:start + self.page_size]

    def pages(self) -> Iterator[list[Event]]:
        """Pages of events after the stored cursor, each oldest first."""
        cursor = self.cursor()
        if cursor is None:
            yield from self._chunks(self.everything())
            return
        try:
            first = True
            for page in self._after(cursor):
                first = False
                yield page
        except TerminalError as exc:
            if exc.code != "resource_missing" or not first:
                raise
            log.warning("%s cursor %s is no longer known to Stripe (events are kept 30 "
                        "days); reading every retained event", self.kind, cursor)
            yield from self._chunks(self.everything())
