"""The SFDX metadata in ``sfdx/``, the configuration defaults and the local org's
describe name the same custom fields with the same types: none can drift alone."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from sf_stripe_sync.config import SALESFORCE_API_VERSION, Settings
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.preflight.schema import FieldRequirement, requirements
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from tests.e2e.harness import DEMO_ORG, ROOT, load_json

SFDX = ROOT / "sfdx"
OBJECTS = SFDX / "force-app" / "main" / "default" / "objects"
PERMISSION_SET = (SFDX / "force-app" / "main" / "default" / "permissionsets"
                  / "Stripe_Sync_Integration.permissionset-meta.xml")
NS = {"m": "http://soap.sforce.com/2006/04/metadata"}
DESCRIBE_TYPE = {
    "Text": "string", "LongTextArea": "textarea", "Picklist": "picklist",
    "MultiselectPicklist": "multipicklist", "Number": "double", "Currency": "currency",
    "Percent": "percent", "DateTime": "datetime", "Date": "date", "Lookup": "reference",
    "Checkbox": "boolean", "Url": "url",
}


@dataclass(frozen=True)
class XmlField:
    sobject: str
    name: str
    type: str
    length: int | None
    precision: int | None
    scale: int | None
    reference_to: str | None
    values: tuple[str, ...]
    external_id: bool


def _int(root: ET.Element, tag: str) -> int | None:
    text = root.findtext(f"m:{tag}", namespaces=NS)
    return int(text) if text else None


def _parse(path: Path) -> XmlField:
    root = ET.parse(path).getroot()
    values = tuple(v.findtext("m:fullName", namespaces=NS) or "" for v in
                   root.findall("m:valueSet/m:valueSetDefinition/m:value", NS))
    name = root.findtext("m:fullName", namespaces=NS)
    assert name == path.name.removesuffix(".field-meta.xml"), f"{path}: fullName differs"
    return XmlField(
        sobject=path.parent.parent.name, name=name, type=root.findtext("m:type", "", NS),
        length=_int(root, "length"), precision=_int(root, "precision"),
        scale=_int(root, "scale"), reference_to=root.findtext("m:referenceTo", None, NS),
        values=values, external_id=root.findtext("m:externalId", "false", NS) == "true")


@pytest.fixture(scope="module")
def shipped() -> dict[tuple[str, str], XmlField]:
    found = [_parse(p) for p in sorted(OBJECTS.glob("*/fields/*.field-meta.xml"))]
    return {(f.sobject, f.name): f for f in found}


@pytest.fixture(scope="module")
def described() -> dict[tuple[str, str], dict[str, object]]:
    """Every custom field the local org (demo snapshot + project fields) describes."""
    org = LocalOrg(load_json(DEMO_ORG))
    out: dict[tuple[str, str], dict[str, object]] = {}
    for spec in org.schema.objects.values():
        for field in org.schema.describe(spec, "/services/data/v65.0")["fields"]:
            if str(field["name"]).endswith("__c"):
                out[(spec.name, str(field["name"]))] = field
    return out


def _wanted() -> dict[tuple[str, str], FieldRequirement]:
    return {(r.sobject, r.name): r for r in requirements(Settings())}


def test_every_configured_field_ships_with_its_type_and_size(
        shipped: dict[tuple[str, str], XmlField]) -> None:
    for key, req in _wanted().items():
        assert key in shipped, f"sfdx/ lacks {req.sobject}.{req.name} ({req.expected})"
        xml = shipped[key]
        assert xml.type == req.sfdx_type, f"{key}: {xml.type} != {req.sfdx_type}"
        assert DESCRIBE_TYPE[xml.type] in req.kinds, key
        if req.length is not None:
            assert xml.length is not None and xml.length >= req.length, key
        if xml.type == "Text":
            assert xml.length is not None and xml.length <= 255, key
        if req.precision is not None:
            assert (xml.precision, xml.scale) == (req.precision, req.scale), key
        assert xml.reference_to == req.reference_to, key
        assert set(req.picklist) <= set(xml.values), f"{key}: picklist lacks values"
        assert xml.external_id == req.external_id, f"{key}: external id differs"


def test_sfdx_ships_no_field_the_configuration_does_not_name(
        shipped: dict[tuple[str, str], XmlField]) -> None:
    assert set(shipped) - set(_wanted()) == set()


def test_every_custom_field_of_the_local_org_ships_with_the_same_type(
        shipped: dict[tuple[str, str], XmlField],
        described: dict[tuple[str, str], dict[str, object]]) -> None:
    assert set(described) == set(shipped), "the local org and sfdx/ differ"
    for key, field in described.items():
        assert field["type"] == DESCRIBE_TYPE[shipped[key].type], key
        assert field["externalId"] == shipped[key].external_id, key
        targets = field["referenceTo"]
        assert targets == ([shipped[key].reference_to] if shipped[key].reference_to else []), key


def test_every_custom_object_ships_with_its_object_file(
        described: dict[tuple[str, str], dict[str, object]]) -> None:
    custom = {sobject for sobject, _ in described if sobject.endswith("__c")}
    assert custom, "the local org describes no custom object"
    for sobject in custom:
        path = OBJECTS / sobject / f"{sobject}.object-meta.xml"
        root = ET.parse(path).getroot()
        assert root.findtext("m:deploymentStatus", namespaces=NS) == "Deployed"


def test_every_field_map_default_is_a_requirement() -> None:
    named = {name for name in FieldMap().model_dump().values()
             if isinstance(name, str) and name.endswith("__c")}
    known = {r.name for r in requirements(Settings())} | {r.sobject for r in
                                                          requirements(Settings())}
    assert named <= known


def test_the_permission_set_grants_what_the_engine_does_with_each_field() -> None:
    root = ET.parse(PERMISSION_SET).getroot()
    grants = {p.findtext("m:field", namespaces=NS): p.findtext("m:editable", namespaces=NS)
              for p in root.findall("m:fieldPermissions", NS)}
    objects = {p.findtext("m:object", namespaces=NS): p
               for p in root.findall("m:objectPermissions", NS)}
    for req in requirements(Settings()):
        key = f"{req.sobject}.{req.name}"
        assert key in grants, f"the permission set does not grant {key}"
        if req.access != "read":
            assert grants[key] == "true", f"{key} must be editable"
        assert req.sobject in objects, f"the permission set does not grant {req.sobject}"
    log = objects["Sync_Log__c"]
    assert log.findtext("m:allowCreate", namespaces=NS) == "true"


def test_the_project_pins_the_engine_api_version() -> None:
    project = json.loads((SFDX / "sfdx-project.json").read_text(encoding="utf-8"))
    assert project["sourceApiVersion"] == SALESFORCE_API_VERSION
    assert [d["path"] for d in project["packageDirectories"]] == ["force-app"]
