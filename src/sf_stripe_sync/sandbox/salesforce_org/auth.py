"""Sessions and the two login flows simple-salesforce uses (SOAP and OAuth 2.0).

Theory of operation: the org keeps a set of live session ids. The configured one is
live from the start; every successful login mints another. ``expire_all`` kills every
live session and mints a fresh default, so the next call with an old id gets 401
INVALID_SESSION_ID (and a client that logged in with credentials logs in again, as
against a real org). When the org was built with a username/password they are
checked; without them any credentials are accepted. Passwords and client secrets are
never stored beyond the comparison, logged or echoed.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import threading
from urllib.parse import parse_qs
from xml.etree import ElementTree

from sf_stripe_sync.sandbox.salesforce_org.messages import (
    OrgRequest,
    OrgResponse,
    json_response,
)

ORG_ID = "00Dlocal0000001AAA"
USER_ID = "005local0000001AAA"

_SOAP_FAULT = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" \
xmlns:sf="urn:fault.partner.soap.sforce.com">
<soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode>
<faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.\
</faultstring><detail><sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>
<sf:exceptionMessage>Invalid username, password, security token; or user locked out.\
</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body>
</soapenv:Envelope>"""


class SessionRegistry:
    def __init__(self, default_session: str) -> None:
        self._lock = threading.Lock()
        self._default = default_session
        self._live = {default_session}

    @property
    def default(self) -> str:
        return self._default

    def mint(self) -> str:
        session = f"{ORG_ID[:15]}!{secrets.token_urlsafe(24)}"
        with self._lock:
            self._live.add(session)
        return session

    def is_live(self, session: str | None) -> bool:
        with self._lock:
            return session is not None and session in self._live

    def expire_all(self) -> None:
        fresh = f"{ORG_ID[:15]}!{secrets.token_urlsafe(24)}"
        with self._lock:
            self._live = {fresh}
            self._default = fresh


def bearer_token(request: OrgRequest) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and token:
        return token.strip()
    return None


class Authenticator:
    def __init__(self, sessions: SessionRegistry, username: str | None,
                 password: str | None) -> None:
        self.sessions = sessions
        self._username = username
        self._password = password

    def _accepts(self, username: str | None, password: str | None, *, token_suffix: bool
                 ) -> bool:
        if self._username is None:
            return True
        if username is None or not hmac.compare_digest(username, self._username):
            return False
        if self._password is None:
            return True
        given = password or ""
        if token_suffix and len(given) >= len(self._password):
            given = given[: len(self._password)]  # the security token follows the password
        return hmac.compare_digest(given, self._password)

    def soap_login(self, request: OrgRequest, instance_url: str, api_version: str
                   ) -> OrgResponse:
        username = password = None
        try:
            root = ElementTree.fromstring(request.body)
        except ElementTree.ParseError:
            return OrgResponse(500, _SOAP_FAULT.encode(), "text/xml;charset=UTF-8")
        for element in root.iter():
            local = element.tag.rsplit("}", 1)[-1]
            if local == "username":
                username = element.text
            elif local == "password":
                password = element.text
        if not self._accepts(username, password, token_suffix=True):
            return OrgResponse(500, _SOAP_FAULT.encode(), "text/xml;charset=UTF-8")
        session = self.sessions.mint()
        server_url = f"{instance_url}/services/Soap/u/{api_version}/{ORG_ID[:15]}"
        body = f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" \
xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><loginResponse><result>
<metadataServerUrl>{instance_url}/services/Soap/m/{api_version}/{ORG_ID[:15]}</metadataServerUrl>
<passwordExpired>false</passwordExpired><sandbox>true</sandbox>
<serverUrl>{server_url}</serverUrl><sessionId>{session}</sessionId><userId>{USER_ID}</userId>
<userInfo><organizationId>{ORG_ID}</organizationId><userId>{USER_ID}</userId></userInfo>
</result></loginResponse></soapenv:Body></soapenv:Envelope>"""
        return OrgResponse(200, body.encode(), "text/xml;charset=UTF-8")

    def oauth_token(self, request: OrgRequest, instance_url: str) -> OrgResponse:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8")).items()}
        grant = form.get("grant_type", "")
        if grant == "password":
            ok = bool(form.get("client_id")) and self._accepts(
                form.get("username"), form.get("password"), token_suffix=True)
        elif grant == "client_credentials":
            ok = bool(form.get("client_id")) or request.headers.get(
                "authorization", "").lower().startswith("basic ")
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            ok = self._accepts_assertion(form.get("assertion", ""))
        else:
            return json_response(400, {"error": "unsupported_grant_type",
                                       "error_description": "grant type not supported"})
        if not ok:
            return json_response(400, {"error": "invalid_grant",
                                       "error_description": "authentication failure"})
        return json_response(200, {
            "access_token": self.sessions.mint(),
            "instance_url": instance_url,
            "id": f"{instance_url}/id/{ORG_ID}/{USER_ID}",
            "token_type": "Bearer",
            "issued_at": "0",
            "signature": "local",
        })

    def _accepts_assertion(self, assertion: str) -> bool:
        """A JWT's claims are read (its signature is not checked: the org is local)."""
        parts = assertion.split(".")
        if len(parts) != 3:
            return False
        try:
            padded = parts[1] + "=" * (-len(parts[1]) % 4)
            claims = json.loads(base64.urlsafe_b64decode(padded))
        except ValueError:
            return False
        subject = claims.get("sub") if isinstance(claims, dict) else None
        return self._username is None or subject == self._username
