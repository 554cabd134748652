"""When the emulator writes its state file: once per burst of changes, on stop, when asked."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import requests

from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator
from sf_stripe_sync.sandbox.stripe_emulator.persistence import DebouncedSaver

pytestmark = pytest.mark.integration

SEED = {"customers": [{"id": "cus_A"}]}
HEADERS = {"Authorization": "Bearer sk_test_persistence"}
AN_HOUR = 3600.0


def _create_customer(emu: StripeEmulator, email: str) -> str:
    answer = requests.post(f"{emu.url}/v1/customers", data={"email": email},
                           headers=HEADERS, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def _saved_customers(state: Path) -> dict[str, object]:
    stored = json.loads(state.read_text(encoding="utf-8"))["store"]["objects"][""]
    return dict(stored["customer"])


def test_a_burst_of_changes_is_saved_once() -> None:
    saves: list[int] = []
    saver = DebouncedSaver(lambda: saves.append(1), delay=AN_HOUR)
    for _ in range(50):
        saver.changed()
    saver.flush()
    saver.flush()
    saver.cancel()

    assert saves == [1]
    assert saver.dirty is False


def test_the_timer_saves_a_change_without_being_asked() -> None:
    saved = threading.Event()
    saver = DebouncedSaver(saved.set, delay=0.01)
    saver.changed()

    assert saved.wait(timeout=30)
    saver.cancel()


def test_a_failed_save_leaves_the_changes_unsaved() -> None:
    def failing() -> None:
        raise OSError("disk full")

    saver = DebouncedSaver(failing, delay=AN_HOUR)
    saver.changed()
    with pytest.raises(OSError):
        saver.flush()
    saver.cancel()

    assert saver.dirty is True


def test_writes_do_not_rewrite_the_state_file_each_time(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with StripeEmulator(seed=SEED, state_file=state, save_delay=AN_HOUR).running() as emu:
        _create_customer(emu, "one@example.com")
        _create_customer(emu, "two@example.com")

        assert not state.exists()
        assert emu.unsaved_changes


def test_the_save_endpoint_writes_the_state_file_now(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with StripeEmulator(seed=SEED, state_file=state, save_delay=AN_HOUR).running() as emu:
        made = _create_customer(emu, "saved@example.com")
        answer = requests.post(f"{emu.url}/_emulator/save", timeout=10)

        assert answer.json() == {"saved": True}
        assert made in _saved_customers(state) and "cus_A" in _saved_customers(state)
        assert not emu.unsaved_changes


def test_stop_saves_every_change_and_a_restart_serves_them(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with StripeEmulator(seed=SEED, state_file=state, save_delay=AN_HOUR).running() as emu:
        made = [_create_customer(emu, f"c{i}@example.com") for i in range(3)]

    assert set(made) <= set(_saved_customers(state))
    with StripeEmulator(state_file=state).running() as again:
        assert [c["id"] for c in again.objects("customer")] == ["cus_A", *made]
