"""The trigger queue coalesces ids, survives a reopen, and hands each id to one runner at
a time; the signature and id checks refuse what they must."""

from __future__ import annotations

from pathlib import Path

import pytest

from sf_stripe_sync.serve.signature import (
    OrderIdError,
    SignatureError,
    id18,
    order_ids,
    sign,
    verify,
)
from sf_stripe_sync.triggers import SqliteTriggerQueue

A, B, C = "801000000000001AAA", "801000000000002AAA", "801000000000003AAA"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(tmp_path: Path, clock: Clock) -> SqliteTriggerQueue:
    return SqliteTriggerQueue(tmp_path / "triggers.sqlite", claim_ttl=60, clock=clock)


def test_repeated_ids_coalesce_into_one_entry(queue: SqliteTriggerQueue) -> None:
    assert queue.enqueue([A, B, A], source="api") == [A, B]
    queue.enqueue([A], source="outbound_message")
    assert queue.depth() == 2
    claim = queue.claim(10)
    assert claim is not None and sorted(claim.order_ids) == [A, B]


def test_enqueued_ids_survive_a_reopen(tmp_path: Path, clock: Clock) -> None:
    first = SqliteTriggerQueue(tmp_path / "q.sqlite", clock=clock)
    first.enqueue([A, B], source="api")
    first.close()
    assert SqliteTriggerQueue(tmp_path / "q.sqlite", clock=clock).pending_ids() == [A, B]


def test_a_claimed_id_is_not_handed_out_twice_until_its_claim_expires(
        queue: SqliteTriggerQueue, clock: Clock) -> None:
    queue.enqueue([A], source="api")
    assert queue.claim(10) is not None
    assert queue.claim(10) is None
    clock.now += 61
    again = queue.claim(10)
    assert again is not None and again.order_ids == (A,)


def test_an_id_enqueued_while_syncing_is_synced_once_more(queue: SqliteTriggerQueue) -> None:
    queue.enqueue([A, B], source="api")
    claim = queue.claim(10)
    assert claim is not None
    queue.enqueue([A], source="api")
    queue.finish(claim, [A, B])
    assert queue.pending_ids() == [A]
    assert queue.claim(10) is not None


def test_retry_later_waits_for_the_delay(queue: SqliteTriggerQueue, clock: Clock) -> None:
    queue.enqueue([A, C], source="api")
    claim = queue.claim(10)
    assert claim is not None
    queue.finish(claim, [C])
    queue.retry_later(claim, [A], 30)
    assert queue.claim(10) is None
    clock.now += 31
    later = queue.claim(10)
    assert later is not None and later.order_ids == (A,)


def test_a_signature_verifies_only_for_its_body_secret_and_window() -> None:
    body = b'{"order_ids": ["801000000000001AAA"]}'
    header = sign("s3cret", body, 1000)
    verify(header, body, "s3cret", now=1000 + 299, window_seconds=300)
    verify(f"{header},v1=00ff", body, "s3cret", now=1000, window_seconds=300)
    with pytest.raises(SignatureError, match="window"):
        verify(header, body, "s3cret", now=1000 + 301, window_seconds=300)
    with pytest.raises(SignatureError, match="window"):
        verify(header, body, "s3cret", now=1000 - 301, window_seconds=300)
    with pytest.raises(SignatureError, match="does not match"):
        verify(header, body + b" ", "s3cret", now=1000, window_seconds=300)
    with pytest.raises(SignatureError, match="does not match"):
        verify(header, body, "other", now=1000, window_seconds=300)
    with pytest.raises(SignatureError, match="missing"):
        verify(None, body, "s3cret", now=1000, window_seconds=300)


def test_order_ids_are_checked_widened_and_deduplicated() -> None:
    assert id18("001D000000IqhSL") == "001D000000IqhSLIAZ"
    assert order_ids([A, A[:15]], limit=5) == [A]
    for bad in (["001000000000001AAA"], ["801000000000001AAB"], ["80100000000000"], [7], []):
        with pytest.raises(OrderIdError):
            order_ids(bad, limit=5)
    with pytest.raises(OrderIdError, match="too many"):
        order_ids([A] * 6, limit=5)
