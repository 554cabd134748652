"""The seams the reliability suite relies on: crash points and sandboxes served elsewhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from sf_stripe_sync.cli import main
from sf_stripe_sync.crashpoints import CRASH_ENV, POINTS

pytestmark = pytest.mark.reliability

PROGRAM = ("from sf_stripe_sync.crashpoints import crashpoint\n"
           "crashpoint('after_stripe')\nprint('still running')\n")


def _run(crash_at: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    return subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_a_crash_point_kills_the_process_only_when_named() -> None:
    named = _run("after_stripe")
    other = _run("mid_writeback")
    unset = _run(None)

    assert named.returncode == -signal.SIGKILL and named.stdout == ""
    assert other.returncode == 0 and other.stdout == "still running\n"
    assert unset.returncode == 0 and unset.stdout == "still running\n"
    assert set(POINTS) == {"after_stripe", "after_journal", "mid_writeback"}


@pytest.mark.parametrize("flag", ["--salesforce-sandbox-url", "--stripe-emulator-url"])
@pytest.mark.parametrize("url", ["https://example.com:443", "http://10.0.0.1:80", "127.0.0.1"])
def test_a_served_sandbox_must_be_on_loopback(
        flag: str, url: str, tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sync", "--state-dir", str(tmp_path), flag, url, "--no-progress"])

    assert code == 2
    assert "loopback" in capsys.readouterr().err
