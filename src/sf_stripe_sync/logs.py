"""Logging (human or JSON lines), secret redaction, and the progress bar.

Theory of operation: ``configure_logging`` installs one stderr handler (INFO and up;
on a terminal in human format WARNING and up unless ``-v``, which shows DEBUG). Human format is
``time level logger: message``; ``--log-format json`` writes one JSON object a line for
log shippers. Every record passes ``RedactSecrets`` first, which masks anything shaped
like a Stripe secret/restricted key, a Salesforce session id or a bearer token: the
adapters never log secrets, and this filter makes sure a library message or an
exception text cannot leak one either. ``progress_bar`` shows a rich progress bar on an
interactive terminal and is silent otherwise (cron, CI, pipes).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9_]{6,}"), "[REDACTED]"),
    (re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._\-]{8,}"), "[REDACTED]"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-!]{8,}"), r"\1[REDACTED]"),
    (re.compile(r"(?i)\b(password|token|secret|session_?id)(\s*[=:]\s*)\S+"),
     r"\1\2[REDACTED]"),
)


def redact(text: str) -> str:
    """Mask anything shaped like a secret; ids, codes and messages pass unchanged."""
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            doc["exception"] = record.exc_text
        return json.dumps(doc, ensure_ascii=False)


def configure_logging(log_format: str = "human", *, verbose: bool = False) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_sf_stripe_sync", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._sf_stripe_sync = True  # type: ignore[attr-defined]
    handler.addFilter(RedactSecrets())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    # On a terminal a person reads the summary: INFO lines only with -v. Elsewhere (cron,
    # files, log shippers) INFO stays, as the record of what was sent.
    quiet = log_format != "json" and sys.stderr.isatty()
    root.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    for noisy in ("urllib3", "stripe", "simple_salesforce", "requests"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextmanager
def progress_bar(*, enabled: bool, label: str = "orders") -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; draws a bar only on an interactive terminal."""
    if not enabled or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("[bold]sync"), BarColumn(), MofNCompleteColumn(),
                  TextColumn(label), transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield lambda n: progress.advance(task, n)
