"""Query cursors: the pages behind ``nextRecordsUrl``.

Theory of operation: a query's full, shaped result is kept under a locator shaped like
Salesforce's (``01g`` + 15 characters); page URLs are ``<locator>-<position>``, exactly
the form simple-salesforce's ``query_more`` follows. The same store serves the pages of
child subqueries. Old cursors are dropped once more than ``MAX_CURSORS`` exist, as a
real org expires idle locators.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections import OrderedDict
from typing import Any

MAX_CURSORS = 1000
_ALPHABET = string.ascii_letters + string.digits


class QueryPages:
    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._cursors: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    def register(self, records: list[dict[str, Any]], base_path: str) -> str:
        """Keep ``records``; return the URL of the page after the first batch."""
        locator = "01g" + "".join(secrets.choice(_ALPHABET) for _ in range(15))
        with self._lock:
            self._cursors[locator] = records
            while len(self._cursors) > MAX_CURSORS:
                self._cursors.popitem(last=False)
        return f"{base_path}/query/{locator}-{self.batch_size}"

    def first_page(self, records: list[dict[str, Any]], base_path: str) -> dict[str, Any]:
        result: dict[str, Any] = {
            "totalSize": len(records),
            "done": len(records) <= self.batch_size,
            "records": records[: self.batch_size],
        }
        if not result["done"]:
            result["nextRecordsUrl"] = self.register(records, base_path)
        return result

    def page(self, identifier: str, base_path: str) -> dict[str, Any] | None:
        locator, _, position = identifier.rpartition("-")
        with self._lock:
            records = self._cursors.get(locator)
        if records is None or not position.isdigit():
            return None
        start = int(position)
        end = start + self.batch_size
        result: dict[str, Any] = {
            "totalSize": len(records),
            "done": end >= len(records),
            "records": records[start:end],
        }
        if not result["done"]:
            result["nextRecordsUrl"] = f"{base_path}/query/{locator}-{end}"
        return result
