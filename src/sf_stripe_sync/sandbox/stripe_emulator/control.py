"""The ``/_emulator/*`` control endpoints: clock, faults, request log, objects, reset.

Theory of operation: these are for tests and demos, so they take and give plain JSON,
need no API key, never get faults and are not logged as API requests:

* ``GET|POST /_emulator/clock``   ``{"now": TS}`` pins the clock, ``{"advance": S}`` moves it;
* ``GET|POST|DELETE /_emulator/faults``   the FaultConfig as JSON (DELETE clears);
* ``GET|DELETE /_emulator/requests``      the API request log;
* ``GET /_emulator/objects/<kind>[?account=acct_...]``  stored objects of a kind;
* ``POST /_emulator/reset``               back to the seed, as freshly started;
* ``POST /_emulator/save``                write the state file now (``--state``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from sf_stripe_sync.sandbox.stripe_emulator.api import Reply
from sf_stripe_sync.sandbox.stripe_emulator.faults import FaultConfig

if TYPE_CHECKING:
    from sf_stripe_sync.sandbox.stripe_emulator.emulator import StripeEmulator

PREFIX = "/_emulator/"


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": {"type": "invalid_request_error", "message": message}})


def _json_body(body: str) -> dict[str, Any]:
    if not body.strip():
        return {}
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def handle_control(emu: StripeEmulator, method: str, path: str, query: str,
                   body: str) -> Reply:
    name = path[len(PREFIX):].strip("/")
    try:
        data = _json_body(body) if method == "POST" else {}
        if name == "clock":
            if method == "POST":
                if "now" in data:
                    emu.set_now(int(data["now"]))
                if "advance" in data:
                    emu.advance(int(data["advance"]))
            return Reply(200, {"now": emu.now(), "pinned": emu.clock.pinned})
        if name == "faults":
            if method == "POST":
                emu.set_faults(FaultConfig.from_json(data))
            elif method == "DELETE":
                emu.clear_faults()
            return Reply(200, emu.faults_config().to_json())
        if name == "requests":
            if method == "DELETE":
                emu.clear_requests()
            return Reply(200, {"object": "list", "data": emu.requests()})
        if name == "save" and method == "POST":
            emu.save_state()
            return Reply(200, {"saved": emu.state_file is not None})
        if name == "reset" and method == "POST":
            emu.reset()
            return Reply(200, {"reset": True})
        if name.startswith("objects/") and method == "GET":
            account = parse_qs(query).get("account", [None])[0]
            kind = name[len("objects/"):]
            return Reply(200, {"object": "list", "data": emu.objects(kind, account=account)})
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))
    return _error(404, f"Unknown emulator control endpoint ({method}: {path}).")
