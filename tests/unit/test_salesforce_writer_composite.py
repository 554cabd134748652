"""``write_many`` against a scripted client: packing, subrequest answers, retries."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from sf_stripe_sync.errors import TerminalError
from sf_stripe_sync.ports import WriteOp
from sf_stripe_sync.salesforce.auth import CallMeter, SalesforceConnection
from sf_stripe_sync.salesforce.errors import AmbiguousWriteError
from sf_stripe_sync.salesforce.retry import RetryPolicy
from sf_stripe_sync.salesforce.writer import SalesforceWriteBack

Subrequest = dict[str, Any]
Script = Callable[[list[Subrequest]], Any]


class ScriptedComposite:
    """Answers ``POST composite`` with what ``script`` returns for the subrequests."""

    sf_version = "65.0"

    def __init__(self, script: Script) -> None:
        self.script = script
        self.calls: list[dict[str, Any]] = []
        self.session_id = "00Dsecret!session"

    def restful(self, path: str, method: str = "GET", data: str | None = None,
                timeout: float | None = None) -> Any:
        assert (method, path) == ("POST", "composite")
        body = json.loads(data or "{}")
        self.calls.append(body)
        return self.script(body["compositeRequest"])


def answer(subrequests: list[Subrequest],
           per_record: Callable[[Subrequest, dict[str, Any]], dict[str, Any]] | None = None
           ) -> dict[str, Any]:
    def ok(sub: Subrequest, record: dict[str, Any]) -> dict[str, Any]:
        return {"id": record.get("Id", "a01new"), "success": True, "errors": []}

    decide = per_record or ok
    return {"compositeResponse": [
        {"referenceId": sub["referenceId"], "httpStatusCode": 200, "httpHeaders": {},
         "body": [decide(sub, r) for r in sub["body"]["records"]]} for sub in subrequests]}


def writer(script: Script, attempts: int = 3) -> tuple[SalesforceWriteBack, ScriptedComposite]:
    client = ScriptedComposite(script)
    conn = SalesforceConnection(client, auth_mode="session", meter=CallMeter(),  # type: ignore[arg-type]
                                retry=RetryPolicy.immediate(attempts))
    return SalesforceWriteBack(conn, sleep=lambda _: None), client


def updates(sobject: str, count: int) -> WriteOp:
    return WriteOp("update", sobject, [{"Id": f"{sobject}{n}", "X__c": n} for n in range(count)])


def runs(records: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """A collection's records as (type, how many in a row)."""
    found: list[tuple[str, int]] = []
    for record in records:
        kind = record["attributes"]["type"]
        if found and found[-1][0] == kind:
            found[-1] = (kind, found[-1][1] + 1)
        else:
            found.append((kind, 1))
    return found


def test_collections_are_packed_five_a_call_in_the_order_given() -> None:
    write, client = writer(answer)
    ops = [updates("Account", 250), updates("Order", 700),
           WriteOp("insert", "Sync_Log__c", [{"Order__c": str(n)} for n in range(450)])]
    results = write.write_many(ops)
    shapes = [[(s["method"], runs(s["body"]["records"])) for s in call["compositeRequest"]]
              for call in client.calls]
    # Updates of several sObjects fill one collection; an insert keeps its own.
    assert shapes == [
        [("PATCH", [("Account", 200)]), ("PATCH", [("Account", 50), ("Order", 150)]),
         ("PATCH", [("Order", 200)]), ("PATCH", [("Order", 200)]),
         ("PATCH", [("Order", 150)])],
        [("POST", [("Sync_Log__c", 200)]), ("POST", [("Sync_Log__c", 200)]),
         ("POST", [("Sync_Log__c", 50)])],
    ]
    assert all(c["allOrNone"] is False and c["collateSubrequests"] is False
               for c in client.calls)
    first_url = client.calls[0]["compositeRequest"][0]["url"]
    assert first_url == "/services/data/v65.0/composite/sobjects"
    assert [len(r) for r in results] == [250, 700, 450]
    assert results[1][699].id == "Order699" and all(r.success for r in results[2])


def test_a_subrequest_locked_whole_is_sent_again_alone() -> None:
    def script(subrequests: list[Subrequest]) -> Any:
        if len(script_calls) == 0:
            script_calls.append(1)
            reply = answer(subrequests)
            reply["compositeResponse"][1].update(httpStatusCode=400, body=[
                {"errorCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}])
            return reply
        return answer(subrequests)

    script_calls: list[int] = []
    write, client = writer(script)
    orders, logs = write.write_many([updates("Order", 2),
                                     WriteOp("insert", "Sync_Log__c", [{"Order__c": "1"}])])
    assert [len(c["compositeRequest"]) for c in client.calls] == [2, 1]
    assert client.calls[1]["compositeRequest"][0]["method"] == "POST"
    assert all(r.success for r in orders + logs)


def test_a_locked_upsert_is_sent_again_as_an_upsert_on_its_external_id() -> None:
    def script(subrequests: list[Subrequest]) -> Any:
        reply = answer(subrequests)
        if not script_calls:
            script_calls.append(1)
            reply["compositeResponse"][0].update(httpStatusCode=400, body=[
                {"errorCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}])
        return reply

    script_calls: list[int] = []
    write, client = writer(script)
    (logs,) = write.write_many([WriteOp("upsert", "Sync_Log__c",
                                        [{"Sync_Key__c": "k1", "Order__c": "1"}],
                                        "Sync_Key__c")])
    urls = [c["compositeRequest"][0]["url"] for c in client.calls]
    assert urls == ["/services/data/v65.0/composite/sobjects/Sync_Log__c/Sync_Key__c"] * 2
    assert all(r.success for r in logs)


def first_refused_whole(subrequests: list[Subrequest]) -> Any:
    """Salesforce's answer with the first subrequest refused whole (an unknown sObject)."""
    reply = answer(subrequests)
    reply["compositeResponse"][0].update(httpStatusCode=400, body=[
        {"errorCode": "INVALID_TYPE", "message": "sObject type 'Nope' is not supported"}])
    return reply


def test_a_subrequest_refused_whole_fails_each_of_its_records() -> None:
    write, client = writer(first_refused_whole)
    bad, good = write.write_many([updates("Nope", 2),
                                  WriteOp("insert", "Sync_Log__c", [{"Order__c": "1"}])])
    assert len(client.calls) == 1
    assert [r.success for r in bad] == [False, False]
    assert bad[0].errors[0].startswith("INVALID_TYPE") and bad[1].id == "Nope1"
    assert good[0].success


def test_updates_sharing_a_collection_refused_whole_all_fail_and_are_reported() -> None:
    write, client = writer(first_refused_whole)
    bad, shared = write.write_many([updates("Nope", 2), updates("Order", 1)])
    assert len(client.calls[0]["compositeRequest"]) == 1
    assert [r.success for r in bad + shared] == [False, False, False]
    assert shared[0].id == "Order0" and shared[0].errors[0].startswith("INVALID_TYPE")


def test_at_most_ten_writes_share_an_update_collection() -> None:
    write, client = writer(answer)
    results = write.write_many([updates(f"Type{n}__c", 3) for n in range(12)])
    sizes = [len(s["body"]["records"]) for s in client.calls[0]["compositeRequest"]]
    assert sizes == [30, 6] and all(r.success for per_op in results for r in per_op)


def test_a_record_failure_inside_a_200_answer_is_not_success() -> None:
    def fail_second(sub: Subrequest, record: dict[str, Any]) -> dict[str, Any]:
        if record.get("Id") == "Order1":
            return {"success": False, "errors": [
                {"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "no"}]}
        return {"id": record["Id"], "success": True, "errors": []}

    write, _ = writer(lambda subs: answer(subs, fail_second))
    (results,) = write.write_many([updates("Order", 3)])
    assert [r.success for r in results] == [True, False, True]
    assert results[1].errors == ("FIELD_CUSTOM_VALIDATION_EXCEPTION: no",)


def test_an_answer_missing_a_subrequest_is_a_terminal_error() -> None:
    def script(subrequests: list[Subrequest]) -> Any:
        reply = answer(subrequests)
        reply["compositeResponse"].pop()
        return reply

    write, _ = writer(script)
    with pytest.raises(TerminalError, match="one answer per subrequest"):
        write.write_many([updates("Account", 1), updates("Order", 1)])


def test_a_lost_answer_is_resent_only_when_the_call_holds_no_insert() -> None:
    def lost(subrequests: list[Subrequest]) -> Any:
        raise requests.ReadTimeout("no answer")

    with_insert, sent_once = writer(lost)
    with pytest.raises(AmbiguousWriteError):
        with_insert.write_many([updates("Order", 1),
                                WriteOp("insert", "Sync_Log__c", [{"Order__c": "1"}])])
    only_updates, sent_again = writer(lost, attempts=3)
    with pytest.raises(AmbiguousWriteError):
        only_updates.write_many([updates("Order", 1)])
    assert (len(sent_once.calls), len(sent_again.calls)) == (1, 3)


def test_nothing_to_send_makes_no_call() -> None:
    write, client = writer(answer)
    results = write.write_many([WriteOp("update", "Order", [{"X__c": 1}]),
                                WriteOp("insert", "Sync_Log__c", [])])
    assert client.calls == []
    assert results[0][0].errors[0].startswith("MISSING_ARGUMENT") and results[1] == []
