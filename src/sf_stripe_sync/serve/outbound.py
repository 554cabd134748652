"""Salesforce Outbound Messages: read the Order ids of a ``notifications`` call, and ack.

Theory of operation: an Outbound Message is a SOAP envelope whose body holds one
``notifications`` element (namespace ``http://soap.sforce.com/2005/09/outbound``): the
sending ``OrganizationId``, then up to 100 ``Notification`` elements, each with the
notification ``Id`` and an ``sObject`` carrying the record's ``Id`` (enterprise sObject
namespace). ``parse`` returns the organization id and the sObject ids; the endpoint
checks the organization against ``serve.organization_id`` and the ids as Order ids,
enqueues them, and only then answers ``ACK`` (``<Ack>true</Ack>``). Salesforce resends a
message until it is acknowledged and may deliver one twice; the queue coalesces ids.

Outbound Messages carry no signature: the organization id check, TLS and the network
path (an allow-list of Salesforce's addresses, or a client certificate at the proxy)
are the guards. A document type declaration is refused before parsing (no entity
expansion), and the body size is bounded by the app.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}">\n'
    "  <soapenv:Body>\n"
    f'    <notificationsResponse xmlns="{OUTBOUND_NS}">\n'
    "      <Ack>true</Ack>\n"
    "    </notificationsResponse>\n"
    "  </soapenv:Body>\n"
    "</soapenv:Envelope>\n"
)


class OutboundMessageError(ValueError):
    """The body is not a usable Outbound Message; the message says why."""


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    record_ids: tuple[str, ...]
    sobject_types: tuple[str, ...]


def fault(message: str) -> str:
    """A SOAP fault (Salesforce keeps the message queued and shows the reason)."""
    text = (message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv='
            f'"{SOAP_NS}"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode>'
            f"<faultstring>{text}</faultstring></soapenv:Fault></soapenv:Body>"
            "</soapenv:Envelope>\n")


def parse(body: bytes) -> OutboundMessage:
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise OutboundMessageError("document type declarations are not accepted")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise OutboundMessageError(f"not well-formed XML: {exc}") from exc
    notifications = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise OutboundMessageError("no outbound notifications element in the SOAP body")
    organization = (notifications.findtext(f"{{{OUTBOUND_NS}}}OrganizationId") or "").strip()
    if not organization:
        raise OutboundMessageError("the message has no OrganizationId")
    ids: list[str] = []
    kinds: list[str] = []
    for note in notifications.findall(f"{{{OUTBOUND_NS}}}Notification"):
        sobject = note.find(f"{{{OUTBOUND_NS}}}sObject")
        record_id = sobject.findtext(f"{{{SOBJECT_NS}}}Id") if sobject is not None else None
        if not record_id:
            raise OutboundMessageError("a Notification carries no sObject Id")
        ids.append(record_id.strip())
        kind = sobject.get(XSI_TYPE, "") if sobject is not None else ""
        kinds.append(kind.rpartition(":")[2])
    if not ids:
        raise OutboundMessageError("the message holds no Notification")
    return OutboundMessage(organization, tuple(ids), tuple(kinds))


def same_org(given: str, configured: str) -> bool:
    """Organization ids compared on their case-sensitive 15-character form."""
    return len(given) >= 15 and len(configured) >= 15 and given[:15] == configured[:15]
