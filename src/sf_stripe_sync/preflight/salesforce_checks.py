"""Preflight of the Salesforce side: secrets, login, API version, objects and fields.

Theory of operation: ``missing_secrets`` lists, without any network call, every secret
the configured auth mode needs and the environment (or secrets file) lacks, all at
once (``connect`` itself stops at the first). Once logged in, ``check_org``

1. reads the org's API versions (``GET /services/data/``, not an API call) and checks
   the pinned ``salesforce.api_version`` is among them;
2. describes every sObject a ``schema.FieldRequirement`` lives on in ONE
   ``composite/batch`` call (25 describes a call), keeping the whole field describe
   (type, updateable, createable, length, referenceTo), which the engine's own
   name-only cache does not hold;
3. compares each requirement with the describe: a missing object or field, a type
   the engine cannot use, a lookup to the wrong object, a text field too short, or a
   write-back field the integration user may not update (or create, for the log
   object) is a problem naming the field and the expected type. A field the reader
   leaves out when absent (discounts, collection method ...) is a warning; so is a
   field only the catalog commands use, unless the catalog scope is being checked.

Nothing here writes to the org.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sf_stripe_sync.config import Settings, resolve_secret
from sf_stripe_sync.errors import AuthenticationError, ConfigError, SyncError
from sf_stripe_sync.preflight.report import PreflightReport
from sf_stripe_sync.preflight.schema import FieldRequirement, Scope, objects, requirements
from sf_stripe_sync.salesforce.auth import DESCRIBES_PER_BATCH, SalesforceConnection

AREA = "salesforce"
FIELDS_AREA = "salesforce.fields"
Described = dict[str, dict[str, dict[str, Any]]]
"""sObject -> lower-case field name -> the field's describe."""


def missing_secrets(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """Names of secrets (or files) the Salesforce auth mode needs and cannot find."""
    sf = settings.salesforce
    needed = {"session": [sf.session_id_env], "password": [sf.password_env],
              "jwt": [], "client_credentials": [sf.consumer_secret_env]}[sf.auth]
    missing = [name for name in needed
               if resolve_secret(name, settings, environ, required=False) is None]
    if sf.auth == "jwt":
        key_file = sf.private_key_file
        if key_file is None or not Path(key_file).is_file():
            missing.append(f"salesforce.private_key_file ({key_file or 'not set'})")
    return missing


def check_secrets(report: PreflightReport, settings: Settings,
                  environ: Mapping[str, str] | None = None) -> bool:
    """Findings for the Salesforce secrets; True when login may be tried."""
    missing = missing_secrets(settings, environ)
    for name in missing:
        report.problem("secrets", f"{name} is not set (needed by salesforce.auth = "
                       f"{settings.salesforce.auth!r})", subject=name)
    if not missing:
        report.ok("secrets", f"Salesforce secrets for auth = {settings.salesforce.auth!r} "
                  "present")
    return not missing


def check_api_version(report: PreflightReport, conn: SalesforceConnection,
                      wanted: str) -> None:
    client = conn.client
    url = f"https://{client.sf_instance}/services/data/"
    try:
        answer = conn.run("API versions", lambda: client.session.get(
            url, headers=client.headers, timeout=conn.timeout))
        versions = {str(v.get("version")) for v in answer.json() if isinstance(v, dict)}
    except (SyncError, ValueError, AttributeError) as exc:
        report.warn(AREA, f"could not list the org's API versions: {exc}")
        return
    if wanted in versions:
        report.ok(AREA, f"API version {wanted} available")
    else:
        newest = max(versions, key=lambda v: float(v), default="none")
        report.problem(AREA, f"the org does not offer API version {wanted} (newest: "
                       f"{newest})", subject="salesforce.api_version", expected=newest)


def describe_all(conn: SalesforceConnection, sobjects: Iterable[str]) -> tuple[Described,
                                                                                dict[str, str]]:
    """Full field describes of ``sobjects``, and the objects the org lacks (-> why)."""
    wanted = list(dict.fromkeys(sobjects))
    version = getattr(conn.client, "sf_version", None) or "60.0"
    found: Described = {}
    absent: dict[str, str] = {}
    for start in range(0, len(wanted), DESCRIBES_PER_BATCH):
        chunk = wanted[start:start + DESCRIBES_PER_BATCH]
        body = json.dumps({"haltOnError": False, "batchRequests": [
            {"method": "GET", "url": f"v{version}/sobjects/{s}/describe"} for s in chunk]})
        answer = conn.rest("POST", "composite/batch", body=body)
        results = answer.get("results") if isinstance(answer, dict) else None
        for index, sobject in enumerate(chunk):
            result = results[index] if isinstance(results, list) and index < len(results) else {}
            result = result if isinstance(result, dict) else {}
            body_ = result.get("result")
            if result.get("statusCode") == 200 and isinstance(body_, dict):
                found[sobject] = {str(f.get("name", "")).lower(): f
                                  for f in body_.get("fields", []) if isinstance(f, dict)}
            else:
                errors = body_ if isinstance(body_, list) else []
                absent[sobject] = "; ".join(str(e.get("errorCode") or e.get("message"))
                                            for e in errors if isinstance(e, dict)) or "absent"
    return found, absent


def _severity(req: FieldRequirement, scope: Scope) -> str:
    """How a missing field counts under the scope being checked."""
    if req.scope != "sync" and scope != req.scope:
        return "warning"
    return "problem" if req.required else "warning"


def _compare(report: PreflightReport, req: FieldRequirement, field: Mapping[str, Any],
             scope: Scope) -> None:
    subject = f"{req.sobject}.{req.name}"
    kind = str(field.get("type", ""))
    add = report.problem if _severity(req, scope) == "problem" else report.warn
    if kind not in req.kinds:
        add(FIELDS_AREA, f"{subject} is a {kind} field, which the engine cannot use",
            subject=subject, expected=req.expected)
        return
    targets = field.get("referenceTo") or []
    if req.reference_to and req.reference_to not in targets:
        add(FIELDS_AREA, f"{subject} looks up {', '.join(targets) or 'nothing'}",
            subject=subject, expected=req.expected)
        return
    length = field.get("length")
    if (req.length and kind in ("string", "textarea") and isinstance(length, int)
            and 0 < length < req.length):
        add(FIELDS_AREA, f"{subject} holds {length} characters, fewer than the engine "
            f"writes", subject=subject, expected=req.expected)
        return
    if req.external_id and not (field.get("externalId") and field.get("unique")):
        add(FIELDS_AREA, f"{subject} is not a unique External ID (Sync_Log records are "
            "upserted on it, one per operation)", subject=subject, expected=req.expected)
        return
    flag = {"update": "updateable", "create": "createable"}.get(req.access)
    if flag is not None and not field.get(flag, True):
        add(FIELDS_AREA, f"{subject} is not {flag} for this user (check field-level "
            "security and the permission set)", subject=subject, expected=f"{flag}")
        return
    report.ok(FIELDS_AREA, f"{subject} ({kind})", subject=subject)


def check_fields(report: PreflightReport, settings: Settings, described: Described,
                 absent: Mapping[str, str], scope: Scope) -> None:
    for sobject, why in absent.items():
        reqs = [r for r in requirements(settings) if r.sobject == sobject]
        worst = "problem" if any(_severity(r, scope) == "problem" for r in reqs) else "warning"
        add = report.problem if worst == "problem" else report.warn
        names = ", ".join(f"{r.name} {r.expected}" for r in reqs)
        add(FIELDS_AREA, f"the org has no object {sobject} ({why}); it needs fields {names}",
            subject=sobject, expected="custom object (see sfdx/)")
    for req in requirements(settings):
        fields = described.get(req.sobject)
        if fields is None:
            continue
        field = fields.get(req.name.lower())
        if field is None:
            add = report.problem if _severity(req, scope) == "problem" else report.warn
            left_out = "" if req.required else " (left out: optional)"
            add(FIELDS_AREA, f"{req.sobject}.{req.name} is missing{left_out}, named by "
                f"{req.setting}", subject=f"{req.sobject}.{req.name}", expected=req.expected)
            continue
        _compare(report, req, field, scope)


def check_org(report: PreflightReport, conn: SalesforceConnection, settings: Settings,
              scope: Scope, *, where: str = "") -> None:
    """API version, then every configured object and field, all problems at once. The
    describe is the first authenticated call (a session id is only tried there), so its
    failure to authenticate is reported as the login failing."""
    check_api_version(report, conn, settings.salesforce.api_version)
    try:
        described, absent = describe_all(conn, objects(settings))
    except AuthenticationError as exc:
        report.problem(AREA, f"login failed (auth = {settings.salesforce.auth!r}): {exc}")
        return
    except (SyncError, ConfigError) as exc:
        report.problem(AREA, f"cannot describe the org's objects: {exc}")
        return
    report.ok(AREA, f"logged in (auth = {settings.salesforce.auth!r}{where})")
    check_fields(report, settings, described, absent, scope)
