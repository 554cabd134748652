"""Write-back logic against a scripted client: batching, per-record results, retries."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceMalformedRequest

from sf_stripe_sync.errors import TransientError
from sf_stripe_sync.salesforce.auth import CallMeter, SalesforceConnection
from sf_stripe_sync.salesforce.errors import AmbiguousWriteError
from sf_stripe_sync.salesforce.retry import RetryPolicy
from sf_stripe_sync.salesforce.writer import SalesforceWriteBack, encode_json

Script = Callable[[str, list[dict[str, Any]]], Any]


class ScriptedClient:
    """Answers restful() calls with what ``script`` returns (or raises)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.sent: list[tuple[str, list[dict[str, Any]]]] = []
        self.session_id = "00Dsecret!session"

    def restful(self, path: str, method: str = "GET", data: str | None = None,
                timeout: float | None = None) -> Any:
        assert path == "composite/sobjects"
        body = json.loads(data or "{}")
        assert body["allOrNone"] is False
        self.sent.append((method, body["records"]))
        return self.script(method, body["records"])


def _ok(method: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": r.get("Id", f"a00{i}"), "success": True, "errors": []}
            for i, r in enumerate(records)]


def _writer(script: Script, attempts: int = 3) -> tuple[SalesforceWriteBack, ScriptedClient]:
    client = ScriptedClient(script)
    conn = SalesforceConnection(client, auth_mode="session", meter=CallMeter(),  # type: ignore[arg-type]
                                retry=RetryPolicy.immediate(attempts))
    return SalesforceWriteBack(conn, sleep=lambda _: None), client


def test_250_records_go_out_in_two_calls_of_at_most_200() -> None:
    writer, client = _writer(_ok)
    results = writer.update("Order", [{"Id": f"801{i:03d}", "Stripe_Sync_Status__c": "Synced"}
                                      for i in range(250)])
    assert [len(records) for _, records in client.sent] == [200, 50]
    assert all(r.success for r in results) and len(results) == 250
    assert results[249].id == "801249"
    assert client.sent[0][1][0]["attributes"] == {"type": "Order"}


def test_per_record_failure_in_a_200_answer_is_reported_not_hidden() -> None:
    def script(method: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answer = _ok(method, records)
        answer[1] = {"id": None, "success": False, "errors": [
            {"statusCode": "INVALID_FIELD", "message": "No such column", "fields": ["Bad__c"]}]}
        return answer

    writer, _ = _writer(script)
    results = writer.update("Order", [{"Id": "8011"}, {"Id": "8012", "Bad__c": 1}, {"Id": "8013"}])
    assert [r.success for r in results] == [True, False, True]
    assert results[1].id == "8012"
    assert results[1].errors == ("INVALID_FIELD: No such column [Bad__c]",)


def test_locked_records_alone_are_sent_again() -> None:
    locked_once: set[str] = set()

    def script(method: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answer = _ok(method, records)
        for i, record in enumerate(records):
            if record["Id"] == "8012" and "8012" not in locked_once:
                locked_once.add("8012")
                answer[i] = {"success": False, "errors": [
                    {"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}]}
        return answer

    writer, client = _writer(script)
    results = writer.update("Order", [{"Id": "8011"}, {"Id": "8012"}, {"Id": "8013"}])
    assert all(r.success for r in results)
    assert [[r["Id"] for r in records] for _, records in client.sent] == [
        ["8011", "8012", "8013"], ["8012"]]


def test_record_still_locked_after_its_tries_is_reported_failed() -> None:
    def script(method: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"success": False, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW",
                                               "message": "locked"}]} for _ in records]

    writer, client = _writer(script, attempts=3)
    (result,) = writer.update("Order", [{"Id": "8011"}])
    assert not result.success and result.errors[0].startswith("UNABLE_TO_LOCK_ROW")
    assert len(client.sent) == 3


def test_whole_call_503_is_retried_then_raised_as_transient() -> None:
    def script(method: str, records: list[dict[str, Any]]) -> Any:
        raise SalesforceGeneralError("u", 503, "composite", [{"errorCode": "SERVER_UNAVAILABLE",
                                                              "message": "down"}])

    writer, client = _writer(script, attempts=3)
    with pytest.raises(TransientError, match="503"):
        writer.update("Order", [{"Id": "8011"}])
    assert len(client.sent) == 3


def test_whole_call_lock_is_retried_and_can_succeed() -> None:
    calls = iter([SalesforceMalformedRequest("u", 400, "c", [{"errorCode": "UNABLE_TO_LOCK_ROW",
                                                             "message": "locked"}])])

    def script(method: str, records: list[dict[str, Any]]) -> Any:
        failure = next(calls, None)
        if failure is not None:
            raise failure
        return _ok(method, records)

    writer, client = _writer(script)
    assert writer.update("Order", [{"Id": "8011"}])[0].success
    assert len(client.sent) == 2


def test_insert_whose_answer_was_lost_is_not_sent_twice() -> None:
    def script(method: str, records: list[dict[str, Any]]) -> Any:
        raise requests.ReadTimeout("no answer")

    writer, client = _writer(script)
    with pytest.raises(AmbiguousWriteError):
        writer.insert("Sync_Log__c", [{"Message__c": "x"}])
    assert len(client.sent) == 1


def test_update_without_id_fails_locally_without_a_call() -> None:
    writer, client = _writer(_ok)
    (result,) = writer.update("Order", [{"Stripe_Sync_Status__c": "x"}])
    assert not result.success and "MISSING_ARGUMENT" in result.errors[0]
    assert client.sent == []


def test_insert_results_carry_new_ids_in_order() -> None:
    writer, client = _writer(_ok)
    results = writer.insert("Sync_Log__c", [{"Message__c": "a"}, {"Message__c": "b"}])
    assert [r.id for r in results] == ["a000", "a001"]
    assert client.sent[0][0] == "POST"


def test_money_and_time_are_encoded_exactly() -> None:
    text = encode_json({
        "Amount__c": Decimal("1234.50"),
        "At__c": datetime(2025, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC),
        "On__c": date(2025, 1, 2),
    })
    assert json.loads(text, parse_float=Decimal) == {
        "Amount__c": Decimal("1234.50"),
        "At__c": "2025-01-02T03:04:05.678+0000",
        "On__c": "2025-01-02",
    }
    assert "1234.50" in text


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        encode_json({"At__c": datetime(2025, 1, 2)})
