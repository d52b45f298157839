#!/usr/bin/env python3
"""Drive the forcebridge emulator's Metadata API with the unmodified `simple-salesforce` `mdapi`.

Usage:
    python compat/mdapi_scenario.py '<connection info JSON>'
    forcebridge emulator --tls | python compat/mdapi_scenario.py -

The JSON is the line `forcebridge emulator` prints (`EmulatorHandle::connection_info()`).

simple-salesforce's Metadata client (`sf.mdapi`) builds its SOAP envelopes with zeep from the real
Metadata API WSDL it ships, and reads the answers with the same WSDL — so a wrong element name,
namespace or result shape in the emulator fails here. The scenario creates a custom object, a
text field and a lookup field to Lead, reads and lists them, creates a permission set with object
and field permissions, writes records through REST and reads them back with SOQL through the new
relationship, checks a per-component error, deploys a zip package and polls it, and deletes a field.

Reaching the emulator: as compat/simple_salesforce_scenario.py explains, only the SOAP login URL
needs redirecting (a transport adapter on a caller-made `requests.Session`, which simple-salesforce
accepts for this purpose); after login, every URL — REST and `https://{instance}/services/Soap/m/`
— points at the emulator. zeep posts with its own `requests` session, which trusts the CA named by
REQUESTS_CA_BUNDLE, so that is set to the emulator's CA before the Metadata client is made.

One line per step (`ok`, `FAIL`) goes to stdout, then `PASS: n steps` or `FAILED: ...`; the exit
status is 0 only when no step failed.
"""

from __future__ import annotations

import io
import json
import os
import sys
import traceback
import urllib.parse
import zipfile
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce

API_VERSION = "59.0"
OBJECT = "Compat_Thing__c"


class LoginHostAdapter(HTTPAdapter):
    """Sends requests addressed to `*.salesforce.com` (the login host) to the emulator."""

    def __init__(self, target: urllib.parse.SplitResult) -> None:
        super().__init__()
        self.target = target

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urllib.parse.urlsplit(request.url or "")
        if url.hostname and url.hostname.endswith(".salesforce.com"):
            request.url = urllib.parse.urlunsplit(
                (self.target.scheme, self.target.netloc, url.path, url.query, url.fragment)
            )
            request.headers["Host"] = self.target.netloc
        return super().send(request, **kwargs)


def package_zip() -> bytes:
    """A deploy package: one object with a lookup to the scenario's object, and a permission set."""
    files = {
        "package.xml": """<?xml version="1.0" encoding="UTF-8"?>
<Package xmlns="http://soap.sforce.com/2006/04/metadata">
  <types><members>Compat_Part__c</members><name>CustomObject</name></types>
  <types><members>Compat_Part_Access</members><name>PermissionSet</name></types>
  <version>59.0</version>
</Package>""",
        "objects/Compat_Part__c.object": """<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">
  <deploymentStatus>Deployed</deploymentStatus>
  <fields>
    <fullName>Thing__c</fullName><label>Thing</label><referenceTo>Compat_Thing__c</referenceTo>
    <relationshipName>Parts</relationshipName><type>Lookup</type>
  </fields>
  <label>Compat Part</label>
  <nameField><label>Part Name</label><type>Text</type></nameField>
  <pluralLabel>Compat Parts</pluralLabel>
  <sharingModel>ReadWrite</sharingModel>
</CustomObject>""",
        "permissionsets/Compat_Part_Access.permissionset": """<?xml version="1.0" encoding="UTF-8"?>
<PermissionSet xmlns="http://soap.sforce.com/2006/04/metadata">
  <label>Compat Part Access</label>
  <objectPermissions>
    <allowCreate>true</allowCreate><allowDelete>false</allowDelete><allowEdit>true</allowEdit>
    <allowRead>true</allowRead><modifyAllRecords>false</modifyAllRecords>
    <object>Compat_Part__c</object><viewAllRecords>false</viewAllRecords>
  </objectPermissions>
</PermissionSet>""",
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


class Scenario:
    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        self.base = info["instance_url"].rstrip("/")
        self.target = urllib.parse.urlsplit(self.base)
        self.ca_file = info.get("ca_file")
        self.failures: list[str] = []
        self.passed = 0
        self.sf: Salesforce | None = None
        self.lead_id = ""
        self.thing_id = ""

    def session(self) -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        if self.ca_file:
            s.verify = self.ca_file
        adapter = LoginHostAdapter(self.target)
        s.mount("https://", adapter)
        s.mount("http://", adapter)
        return s

    def step(self, name: str, fn: Callable[[], None]) -> None:
        if name != "login" and self.sf is None:
            print(f"FAIL {name}: skipped, no signed-in client")
            self.failures.append(name)
            return
        try:
            fn()
        except Exception as exc:  # a failed step is reported, never fatal to the others
            detail = str(exc).strip().replace("\n", " ")[:800]
            print(f"FAIL {name}: {type(exc).__name__}: {detail}")
            traceback.print_exc(file=sys.stderr)
            self.failures.append(name)
            return
        print(f"ok   {name}")
        self.passed += 1

    @property
    def mdapi(self) -> Any:
        assert self.sf is not None
        return self.sf.mdapi

    # ---- steps -----------------------------------------------------------------------------
    def login(self) -> None:
        if self.ca_file:
            # zeep's own requests session reads the CA bundle from the environment.
            os.environ["REQUESTS_CA_BUNDLE"] = self.ca_file
        self.sf = Salesforce(
            username=self.info["username"],
            password=self.info["password"],
            security_token=self.info["security_token"],
            domain="login",
            version=API_VERSION,
            session=self.session(),
        )
        if self.sf.sf_instance != self.target.netloc:
            raise AssertionError(f"instance is {self.sf.sf_instance!r}, expected {self.target.netloc!r}")

    def create_object(self) -> None:
        md = self.mdapi
        obj = md.CustomObject(
            fullName=OBJECT,
            label="Compat Thing",
            pluralLabel="Compat Things",
            nameField=md.CustomField(label="Thing Name", type=md.FieldType("Text")),
            deploymentStatus=md.DeploymentStatus("Deployed"),
            sharingModel=md.SharingModel("ReadWrite"),
        )
        md.CustomObject.create(obj)

    def create_fields(self) -> None:
        md = self.mdapi
        md.CustomField.create(
            [
                md.CustomField(
                    fullName=f"{OBJECT}.Code__c",
                    label="Code",
                    type=md.FieldType("Text"),
                    length=20,
                    externalId=True,
                    unique=True,
                ),
                md.CustomField(
                    fullName=f"{OBJECT}.Lead__c",
                    label="Lead",
                    type=md.FieldType("Lookup"),
                    referenceTo="Lead",
                    relationshipName="Compat_Things",
                    deleteConstraint=md.DeleteConstraint("SetNull"),
                ),
            ]
        )

    def duplicate_field_is_refused(self) -> None:
        md = self.mdapi
        try:
            md.CustomField.create(
                md.CustomField(fullName=f"{OBJECT}.Code__c", label="Code", type=md.FieldType("Text"), length=5)
            )
        except Exception as exc:  # simple-salesforce raises a bare Exception with the errors
            if "DUPLICATE_DEVELOPER_NAME" not in str(exc):
                raise AssertionError(f"expected DUPLICATE_DEVELOPER_NAME, got {exc}")
            return
        raise AssertionError("a duplicate field was created")

    def read_object(self) -> None:
        got = self.mdapi.CustomObject.read([OBJECT])
        if got.fullName != OBJECT or got.label != "Compat Thing" or got.pluralLabel != "Compat Things":
            raise AssertionError(f"readMetadata answered {got}")
        names = sorted(f.fullName for f in got.fields)
        if names != ["Code__c", "Lead__c"]:
            raise AssertionError(f"fields are {names}")
        lookup = next(f for f in got.fields if f.fullName == "Lead__c")
        if lookup.referenceTo != "Lead" or lookup.relationshipName != "Compat_Things" or lookup.type != "Lookup":
            raise AssertionError(f"lookup read back as {lookup}")
        field = self.mdapi.CustomField.read([f"{OBJECT}.Code__c"])
        if field.length != 20 or field.externalId is not True:
            raise AssertionError(f"readMetadata CustomField answered {field}")

    def list_metadata(self) -> None:
        md = self.mdapi
        rows = md.list_metadata([md.ListMetadataQuery(type="CustomObject"), md.ListMetadataQuery(type="CustomField")])
        names = {(r.type, r.fullName) for r in rows}
        for want in [("CustomObject", OBJECT), ("CustomField", f"{OBJECT}.Lead__c")]:
            if want not in names:
                raise AssertionError(f"{want} not listed in {sorted(names)}")
        row = next(r for r in rows if r.fullName == OBJECT)
        if row.fileName != f"objects/{OBJECT}.object" or not row.id or row.createdDate is None:
            raise AssertionError(f"FileProperties {row}")

    def permission_set(self) -> None:
        md = self.mdapi
        ps = md.PermissionSet(
            fullName="Compat_Access",
            label="Compat Access",
            objectPermissions=[
                md.PermissionSetObjectPermissions(
                    allowCreate=True,
                    allowDelete=False,
                    allowEdit=True,
                    allowRead=True,
                    modifyAllRecords=False,
                    object=OBJECT,
                    viewAllRecords=False,
                )
            ],
            fieldPermissions=[
                md.PermissionSetFieldPermissions(editable=True, field=f"{OBJECT}.Lead__c", readable=True)
            ],
        )
        md.PermissionSet.create(ps)
        got = md.PermissionSet.read(["Compat_Access"])
        if got.label != "Compat Access" or [o.object for o in got.objectPermissions] != [OBJECT]:
            raise AssertionError(f"readMetadata PermissionSet answered {got}")
        assert self.sf is not None
        rows = self.sf.query(
            "SELECT SobjectType, PermissionsCreate FROM ObjectPermissions WHERE Parent.Name = 'Compat_Access'"
        )["records"]
        if [(r["SobjectType"], r["PermissionsCreate"]) for r in rows] != [(OBJECT, True)]:
            raise AssertionError(f"ObjectPermissions rows {rows}")

    def records_through_the_lookup(self) -> None:
        assert self.sf is not None
        self.lead_id = self.sf.Lead.create({"LastName": "Compat", "Company": "Scenario"})["id"]
        created = getattr(self.sf, OBJECT).create({"Name": "first", "Code__c": "C-1", "Lead__c": self.lead_id})
        self.thing_id = created["id"]
        rows = self.sf.query(f"SELECT Name, Lead__r.LastName FROM {OBJECT} WHERE Code__c = 'C-1'")["records"]
        if rows[0]["Lead__r"]["LastName"] != "Compat":
            raise AssertionError(f"rows {rows}")
        rows = self.sf.query(
            f"SELECT LastName, (SELECT Name FROM Compat_Things__r) FROM Lead WHERE Id = '{self.lead_id}'"
        )["records"]
        if rows[0]["Compat_Things__r"]["records"][0]["Name"] != "first":
            raise AssertionError(f"child rows {rows}")
        described = getattr(self.sf, OBJECT).describe()
        lookup = next(f for f in described["fields"] if f["name"] == "Lead__c")
        if lookup["relationshipName"] != "Lead__r" or lookup["referenceTo"] != ["Lead"]:
            raise AssertionError(f"describe of Lead__c {lookup}")

    def deploy(self) -> None:
        assert self.sf is not None
        started = self.sf.deploy(io.BytesIO(package_zip()), sandbox=False)
        if not started["asyncId"] or started["state"] != "Queued":
            raise AssertionError(f"deploy answered {started}")
        for _ in range(200):
            status = self.sf.checkDeployStatus(started["asyncId"])
            if status["state"] in ("Succeeded", "SucceededPartial", "Failed"):
                break
        else:
            raise AssertionError(f"deploy never finished: {status}")
        if status["state"] != "Succeeded":
            raise AssertionError(f"deploy ended {status}")
        detail = status["deployment_detail"]
        if detail["failed_count"] != "0" or detail["deployed_count"] != "3":
            raise AssertionError(f"deployment detail {detail}")
        part = self.sf.Compat_Part__c.create({"Name": "bolt", "Thing__c": self.thing_id})
        rows = self.sf.query(f"SELECT Name, (SELECT Name FROM Parts__r) FROM {OBJECT}")["records"]
        if rows[0]["Parts__r"]["records"][0]["Name"] != "bolt" or not part["success"]:
            raise AssertionError(f"rows {rows}")

    def update_and_delete_field(self) -> None:
        md = self.mdapi
        md.CustomField.update(
            md.CustomField(fullName=f"{OBJECT}.Code__c", label="Code (wide)", type=md.FieldType("Text"), length=60)
        )
        if md.CustomField.read([f"{OBJECT}.Code__c"]).length != 60:
            raise AssertionError("the update did not take")
        md.CustomField.upsert(
            md.CustomField(fullName=f"{OBJECT}.Note__c", label="Note", type=md.FieldType("TextArea"))
        )
        md.CustomField.delete([f"{OBJECT}.Note__c"])
        rows = md.list_metadata([md.ListMetadataQuery(type="CustomField")])
        if any(r.fullName == f"{OBJECT}.Note__c" for r in rows):
            raise AssertionError("the deleted field is still listed")

    def run(self) -> int:
        self.step("login", self.login)
        self.step("createMetadata CustomObject", self.create_object)
        self.step("createMetadata CustomField (text + lookup)", self.create_fields)
        self.step("duplicate field -> DUPLICATE_DEVELOPER_NAME", self.duplicate_field_is_refused)
        self.step("readMetadata", self.read_object)
        self.step("listMetadata", self.list_metadata)
        self.step("PermissionSet create/read + SOQL", self.permission_set)
        self.step("REST records through the lookup", self.records_through_the_lookup)
        self.step("deploy + checkDeployStatus", self.deploy)
        self.step("update/upsert/delete CustomField", self.update_and_delete_field)
        if self.failures:
            print(f"FAILED: {', '.join(self.failures)}")
            return 1
        print(f"PASS: {self.passed} steps")
        return 0


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    raw = sys.stdin.readline() if sys.argv[1] == "-" else sys.argv[1]
    return Scenario(json.loads(raw)).run()


if __name__ == "__main__":
    sys.exit(main())
