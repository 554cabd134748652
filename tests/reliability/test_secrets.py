"""Secrets: recognisable fake keys, passwords and session ids never show up anywhere.

The real ``sync`` and ``status`` commands run with a fake Stripe key, Salesforce session
id, password, security token and consumer secret configured, in both log formats with
debug logging, under injected faults (so retries and errors are logged), with a wrong
session id and with a key Stripe refuses (so authentication errors are printed). Then
every byte they left is scanned: stdout and stderr, every file of the state directory
(the SQLite database and its journal files), the org's Sync_Log__c records and Order
error fields, and the emulator's request log.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.stripe_emulator import FaultConfig, StripeEmulator
from tests.reliability.cli_runs import ROOT, Finished, _environment, run_sync
from tests.reliability.conftest import Figures
from tests.reliability.rig import DEMO_CATALOG, DEMO_ORG, Rig, load_json

pytestmark = pytest.mark.reliability

STRIPE_KEY = "sk_test_RELIABILITYSECRET123"
SESSION_ID = "00DRELIABILITY!SESSIONSECRET"
WRONG_SESSION_ID = "00DRELIABILITY!WRONGSESSIONSECRET"
REFUSED_KEY = "sk_live_RELIABILITYLIVEKEYSECRET"
SECRETS = {
    "STRIPE_API_KEY": STRIPE_KEY,
    "SF_SESSION_ID": SESSION_ID,
    "SF_PASSWORD": "hunter2-RELIABILITY",
    "SF_SECURITY_TOKEN": "tokenRELIABILITYSECRET",
    "SF_CONSUMER_SECRET": "consumerRELIABILITYSECRET",
}
NEEDLES = ("RELIABILITYSECRET123", "SESSIONSECRET", "hunter2-RELIABILITY",
           "tokenRELIABILITYSECRET", "consumerRELIABILITYSECRET", "WRONGSESSIONSECRET",
           "RELIABILITYLIVEKEYSECRET")


def _status(rig: Rig, fmt: str) -> Finished:
    args = [sys.executable, "-m", "sf_stripe_sync.cli", "status", "--state-dir",
            str(rig.state_dir), "--format", fmt]
    done = subprocess.run(args, env=_environment(200, None, SECRETS), cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    return Finished(done.returncode, done.stdout, done.stderr)


def _found(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in text]


def test_no_secret_reaches_output_logs_errors_state_or_the_org(
        tmp_path: Path, figures: Figures) -> None:
    org = LocalOrg(load_json(DEMO_ORG), session_id=SESSION_ID)
    emulator = StripeEmulator(seed=load_json(DEMO_CATALOG))
    org.start()
    emulator.start()
    try:
        rig = Rig(org=org, emulator=emulator, state_dir=tmp_path / "state")
        emulator.set_faults(FaultConfig(error_rate=0.1, drop_rate=0.1, lost_response_rate=0.1,
                                        seed=5))
        runs = [run_sync(rig, env=SECRETS, log_format="human", verbose=True)]
        emulator.clear_faults()
        runs.append(run_sync(rig, env=SECRETS, log_format="json", verbose=True))
        for fmt in ("human", "json"):
            runs.append(run_sync(rig, env={**SECRETS, "SF_SESSION_ID": WRONG_SESSION_ID},
                                 log_format=fmt, verbose=True))
            runs.append(run_sync(rig, env={**SECRETS, "STRIPE_API_KEY": REFUSED_KEY},
                                 log_format=fmt, verbose=True))
        runs += [_status(rig, "table"), _status(rig, "json")]

        assert runs[0].returncode == 1 and runs[1].returncode == 1  # the demo's bad orders
        assert runs[2].returncode != 0 and "session" in runs[2].stderr.lower()
        assert all(run.stdout or run.stderr for run in runs)
        leaks = {f"run {n} {stream}": _found(text) for n, run in enumerate(runs)
                 for stream, text in (("stdout", run.stdout), ("stderr", run.stderr))}
        for path in sorted(rig.state_dir.rglob("*")):
            if path.is_file():
                leaks[str(path.name)] = _found(path.read_bytes().decode("latin-1"))
        leaks["Sync_Log__c"] = _found(json.dumps(org.records("Sync_Log__c")))
        leaks["Order"] = _found(json.dumps(org.records("Order")))
        leaks["Stripe request log"] = _found(json.dumps(emulator.requests()))
        figures.runs += len(runs)
        assert {where: found for where, found in leaks.items() if found} == {}
        assert len(leaks) >= len(runs) * 2 + 4
    finally:
        emulator.stop()
        org.stop()
