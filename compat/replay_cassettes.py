#!/usr/bin/env python3
"""Replay the real Salesforce responses CumulusCI 4.10.1 recorded against the forcebridge emulator.

Usage:
    python compat/replay_cassettes.py '<connection info JSON>' [--json REPORT.json] [--verbose]
    forcebridge emulator | python compat/replay_cassettes.py -

CumulusCI ships VCR cassettes (YAML) its own tests recorded against real orgs; fetch_cumulusci.py
downloads and verifies the pinned wheel that contains them. For each cassette, in recorded order,
this script:

1. resets the emulator (`POST /__emulator/reset`) and signs in (OAuth username-password flow);
2. sorts every interaction: inside the emulated surface (OAuth token, `/services/data` versions,
   resources, describe, sObject CRUD and upsert, query/queryAll, sObject Collections, Composite,
   limits) it is replayed; Metadata/Tooling/Bulk/Chatter/Apex and non-Salesforce hosts are counted
   as out of surface; the few interactions the cassettes themselves mark as hand-written are
   counted apart (they are not real responses);
3. rewrites the request for the emulator: host, the `vxx.0` placeholder version (the version the
   recording's own URLs show, else 62.0), and record ids (recorded id -> the id the emulator gave
   the same record, learned from earlier answers; the org id from the token's identity URL);
4. seeds, through `POST /__emulator/records/{obj}`, records the recorded answer shows but the
   replay has not created (they existed in the recorded org before the test);
5. compares the emulator's answer with the recorded one structurally — status, keys, JSON value
   types, the format of dates/datetimes/ids, and the values that are not org-specific (`errorCode`,
   `statusCode`, `success`, `created`, `httpStatusCode`, `type`, `soapType`). Ids, timestamps,
   counts, labels and other org data are ignored. Lists of named entries (describe `fields`,
   global describe `sobjects`, picklist values, ...) are matched by name: entries present on both
   sides are compared; org-specific entries (names with `__`) are skipped; other recorded entries
   the emulator lacks are counted as coverage gaps, not mismatches (the emulator models a subset of
   a real org's schema).

It prints the counts and every mismatch (cassette, interaction, request, path of the difference),
and a last line `RESULT compared=N matched=M out_of_surface=K hand_written=H` that
crates/forcebridge-emulator/tests/compat_cassettes.rs checks against a floor.
Exit status: 0 when the replay ran (whatever the match count), 2 on bad arguments or setup failure.
"""

from __future__ import annotations

import collections
import json
import re
import sys
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fetch_cumulusci  # noqa: E402  (sibling script, imported for its ensure())

DEFAULT_VERSION = "62.0"
RECORDED_HOST = re.compile(r"https://[a-z0-9.-]*\.salesforce\.com")
VERSION_IN_URL = re.compile(r"/services/data/v(\d+\.\d)\b")
# A Salesforce id: 15 or 18 alphanumerics (checked further by looks_like_id).
ID_TOKEN = re.compile(r"\b[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?\b")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Values compared exactly wherever they appear: they are API semantics, not org data.
EXACT_KEYS = {"errorCode", "statusCode", "success", "created", "httpStatusCode", "type", "soapType"}
# Keys of list entries that name them; such lists are matched by name (see module doc).
NAME_KEYS = ("name", "developerName", "value")
# Fields a seeded record never carries: the emulator sets them itself.
SYSTEM_FIELDS = {
    "Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById",
    "SystemModstamp", "LastViewedDate", "LastReferencedDate", "LastActivityDate", "attributes",
}
# Cassettes that say they were edited by hand: not (only) real responses, so not compared.
# CumulusCI names hand-edited cassettes `ManualEdit*` (e.g. a 500 status edited in to simulate a
# network failure, describe bodies cut down to invalid JSON); uncompressed_cassette.yaml is a
# hand-written fixture whose bodies are "Blah Blah Blah".
def hand_written(cassette: str) -> bool:
    return cassette.startswith("ManualEdit") or cassette == "uncompressed_cassette.yaml"

IN_SURFACE_FAMILIES = {"oauth", "versions", "resources", "sobjects", "query", "collections", "composite", "limits"}


# ------------------------------------------------------------------------------------------------
# Loading cassettes


@dataclass
class Interaction:
    cassette: str
    index: int
    method: str
    uri: str
    body: str | None
    status: int
    response_body: str
    content_type: str


def load_cassettes(root: Path) -> list[tuple[str, list[Interaction]]]:
    """Every cassette of the wheel, include files and string templates expanded."""
    shared_dir = root / "cumulusci" / "tests" / "shared_cassettes"
    includes = {f.name: yaml.safe_load(f.read_text()) for f in sorted(shared_dir.glob("*.yaml"))}
    templates = {f.name: f.read_text() for f in sorted((shared_dir / "vcr_string_templates").glob("*.tpl"))}
    files = sorted(p for p in root.glob("cumulusci/**/*.yaml") if is_cassette(p, shared_dir))
    out = []
    for path in files:
        data = yaml.safe_load(path.read_text())
        raw = data.get("interactions") if isinstance(data, dict) and "interactions" in data else [data]
        items = []
        for i, it in enumerate(raw):
            if isinstance(it, dict) and "include_file" in it:
                it = includes[it["include_file"]]
            it = expand_templates(it, templates)
            req, resp = it["request"], it["response"]
            body = resp.get("body", {})
            text = body.get("string", "") if isinstance(body, dict) else (body or "")
            ctype = ""
            headers = resp.get("headers") or {}
            if isinstance(headers.get("Response-Headers"), dict):
                headers = headers["Response-Headers"]
            for k, v in headers.items():
                if k.lower() == "content-type":
                    ctype = v[0] if isinstance(v, list) else str(v)
            items.append(
                Interaction(
                    cassette=path.name,
                    index=i,
                    method=req["method"].upper(),
                    uri=req["uri"],
                    body=req.get("body"),
                    status=int(resp["status"]["code"]),
                    response_body=text if isinstance(text, str) else text.decode("utf-8", "replace"),
                    content_type=ctype,
                )
            )
        out.append((path.name, items))
    return out


def is_cassette(path: Path, shared_dir: Path) -> bool:
    if shared_dir in path.parents:
        return False  # include targets: counted where a cassette includes them
    return "cassettes" in path.parts or path.name.endswith("_cassette.yaml")


def expand_templates(node: Any, templates: dict[str, str]) -> Any:
    """CumulusCI's `include_template` string compression (used for Bulk API XML bodies)."""
    if isinstance(node, dict):
        if "include_template" in node and node["include_template"] in templates:
            pattern = templates[node["include_template"]]
            values = dict(node.get("vars") or {})

            def sub(m: re.Match[str]) -> str:
                return str(values.get(m.group(1), m.group(3) or ""))

            return re.sub(r"{([^:}]+)(:(.*?))?}", sub, pattern)
        return {k: expand_templates(v, templates) for k, v in node.items()}
    if isinstance(node, list):
        return [expand_templates(v, templates) for v in node]
    return node


# ------------------------------------------------------------------------------------------------
# Classifying


def family(method: str, uri: str, body: str | None) -> str:
    """The API family of a recorded request; IN_SURFACE_FAMILIES are replayed."""
    url = urllib.parse.urlsplit(uri)
    if not (url.hostname or "").endswith("salesforce.com"):
        return f"not Salesforce ({url.hostname})"
    path = "/" + url.path.strip("/")
    if path.startswith("/services/oauth2/token"):
        return "oauth"
    if path.startswith("/services/async"):
        return "Bulk API 1.0"
    if path.startswith("/services/Soap/m") or path.startswith("/services/Soap/T"):
        return "Metadata/Tooling SOAP"
    if path.startswith("/services/apexrest"):
        return "Apex REST"
    if path == "/services/data":
        return "versions"
    m = re.match(r"^/services/data/v[^/]+(/.*)?$", path)
    if not m:
        return f"other ({path})"
    rest = m.group(1) or ""
    if rest == "":
        return "resources"
    head = rest.split("/")[1]
    if head == "sobjects":
        return "sobjects"
    if head in ("query", "queryAll"):
        return "query"
    if head == "limits":
        return "limits"
    if rest.startswith("/composite/sobjects"):
        return "collections"
    if rest == "/composite":
        # A Composite call is in surface only when each subrequest is.
        try:
            subs = json.loads(body or "{}").get("compositeRequest", [])
        except json.JSONDecodeError:
            return "composite (unreadable body)"
        for sub in subs:
            f = family(sub.get("method", "GET"), "https://x.salesforce.com" + sub.get("url", ""), json.dumps(sub.get("body")))
            if f not in IN_SURFACE_FAMILIES:
                return f"composite containing {f}"
        return "composite"
    if head == "tooling":
        return "Tooling API"
    if head == "jobs":
        return "Bulk API 2.0"
    if head in ("connect", "chatter"):
        return "Connect/Chatter"
    if head == "metadata":
        return "Metadata API"
    return f"other REST ({head})"


# ------------------------------------------------------------------------------------------------
# Ids


def looks_like_id(s: str) -> bool:
    """A Salesforce record id: 15 or 18 characters, a key prefix, and digits in it."""
    return len(s) in (15, 18) and s.isalnum() and any(c.isdigit() for c in s[:6]) and not s.isdigit()


def to18(id15: str) -> str:
    """The 18-character form of a 15-character id (Salesforce's case-checksum suffix)."""
    if len(id15) != 15:
        return id15
    suffix = ""
    for chunk in range(3):
        bits = 0
        for i, c in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= c <= "Z":
                bits |= 1 << i
        suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
    return id15 + suffix


class IdMap:
    """Recorded id -> the emulator's id for the same record (both recorded forms map)."""

    def __init__(self) -> None:
        self.map: dict[str, str] = {}

    def add(self, recorded: str, actual: str) -> None:
        if looks_like_id(recorded) and looks_like_id(actual):
            full = to18(recorded)
            self.map[full] = actual
            self.map[full[:15]] = actual

    def get(self, recorded: str) -> str | None:
        return self.map.get(recorded) or self.map.get(to18(recorded))

    def rewrite(self, text: str) -> str:
        return ID_TOKEN.sub(lambda m: self.get(m.group(0)) or m.group(0), text)

    def learn(self, recorded: Any, actual: Any, key: str = "") -> None:
        """Walk both answers in parallel; ids at the same place are the same record."""
        if isinstance(recorded, dict) and isinstance(actual, dict):
            for k, v in recorded.items():
                if k in actual:
                    self.learn(v, actual[k], k)
        elif isinstance(recorded, list) and isinstance(actual, list):
            for r, a in zip(recorded, actual):
                self.learn(r, a, key)
        elif isinstance(recorded, str) and isinstance(actual, str):
            if (key in ("id", "Id") or key.endswith("Id")) and looks_like_id(recorded):
                self.add(recorded, actual)


# ------------------------------------------------------------------------------------------------
# Structural comparison


@dataclass
class Comparison:
    diffs: list[str] = field(default_factory=list)
    coverage: list[str] = field(default_factory=list)


def kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def org_specific(name: Any) -> bool:
    """Entries only some orgs have: custom/namespaced names, person-account `__pc` fields."""
    return isinstance(name, str) and "__" in name


def list_key(items: list[Any]) -> str | None:
    if not items or not all(isinstance(x, dict) for x in items):
        return None
    if all("referenceId" in x for x in items):
        return "referenceId"
    if all("childSObject" in x and "field" in x for x in items):
        return "childSObject+field"
    for k in NAME_KEYS:
        if all(isinstance(x.get(k), str) for x in items):
            return k
    return None


def entry_key(item: dict[str, Any], key: str) -> str:
    if key == "childSObject+field":
        return f"{item.get('childSObject')}.{item.get('field')}"
    return str(item.get(key))


def compare(expected: Any, actual: Any, path: str, out: Comparison, lenient_keys: bool = False) -> None:
    ke, ka = kind(expected), kind(actual)
    if ke == "null" or ka == "null":
        # Null is data (an empty value in one org), except in place of a whole object or list.
        if {ke, ka} & {"object", "array"} and ke != ka:
            out.diffs.append(f"{path}: expected {ke}, got {ka}")
        return
    if ke != ka:
        out.diffs.append(f"{path}: expected {ke}, got {ka} ({short(actual)})")
        return
    if ke == "string":
        for name, rx in (("datetime", DATETIME), ("date", DATE)):
            if rx.match(expected) and not rx.match(actual):
                out.diffs.append(f"{path}: expected a {name} like {expected!r}, got {actual!r}")
        leaf = path.rsplit(".", 1)[-1]
        if (leaf in ("id", "Id") or leaf.endswith("Id")) and looks_like_id(expected) and not looks_like_id(actual):
            out.diffs.append(f"{path}: expected an id like {expected!r}, got {actual!r}")
        return
    if ke == "object":
        for k, v in expected.items():
            if k not in actual:
                if lenient_keys:
                    out.coverage.append(f"{path}.{k}")
                else:
                    out.diffs.append(f"{path}: missing key {k!r}")
                continue
            if k in EXACT_KEYS and kind(v) in ("string", "number", "boolean") and v != actual[k]:
                out.diffs.append(f"{path}.{k}: expected {v!r}, got {actual[k]!r}")
                continue
            compare(v, actual[k], f"{path}.{k}", out)
        if not lenient_keys:
            for k in actual:
                if k not in expected:
                    out.diffs.append(f"{path}: unexpected key {k!r}")
        return
    if ke == "array":
        if (len(expected) == 0) != (len(actual) == 0):
            out.diffs.append(f"{path}: expected {len(expected)} entries, got {len(actual)}: {short(actual, 240)}")
            return
        key = list_key(expected)
        if key is not None and key != "referenceId":
            by_name = {entry_key(x, key): x for x in actual if isinstance(x, dict)}
            for x in expected:
                name = entry_key(x, key)
                if name in by_name:
                    compare(x, by_name[name], f"{path}[{name}]", out)
                elif not org_specific(name):
                    out.coverage.append(f"{path}[{name}]")
            return
        if key == "referenceId":
            by_ref = {x.get("referenceId"): x for x in actual if isinstance(x, dict)}
            for x in expected:
                ref = x.get("referenceId")
                if ref not in by_ref:
                    out.diffs.append(f"{path}: no subresponse with referenceId {ref!r}")
                else:
                    compare(x, by_ref[ref], f"{path}[{ref}]", out)
            return
        for i, (e, a) in enumerate(zip(expected, actual)):
            compare(e, a, f"{path}[{i}]", out)


def short(v: Any, limit: int = 80) -> str:
    s = json.dumps(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."


# ------------------------------------------------------------------------------------------------
# Replaying


@dataclass
class Outcome:
    cassette: str
    index: int
    request: str
    diffs: list[str]
    coverage: list[str]


class Replayer:
    def __init__(self, info: dict[str, Any], verbose: bool) -> None:
        self.info = info
        self.base = info["instance_url"].rstrip("/")
        self.http = requests.Session()
        # Env CA bundles (REQUESTS_CA_BUNDLE) would override `verify`; see simple_salesforce_scenario.py.
        self.http.trust_env = False
        if info.get("ca_file"):
            self.http.verify = info["ca_file"]
        self.verbose = verbose
        self.token: str | None = None
        self.org_id: str | None = None
        self.notes: list[str] = []

    # -- emulator plumbing --
    def reset(self) -> None:
        r = self.http.post(f"{self.base}/__emulator/reset", timeout=60)
        if r.status_code == 404 and "reset unavailable" not in self.notes:
            self.notes.append("reset unavailable")
        self.sign_in()

    def sign_in(self) -> None:
        token_url = self.info.get("token_url") or f"{self.base}/services/oauth2/token"
        r = self.http.post(
            token_url,
            data={
                "grant_type": "password",
                "client_id": self.info["client_id"],
                "client_secret": self.info["client_secret"],
                "username": self.info["username"],
                "password": self.info["password"] + self.info["security_token"],
            },
            timeout=60,
        )
        if r.status_code != 200:
            self.token = None
            note = f"token request answered {r.status_code}; replaying without a token"
            if note not in self.notes:
                self.notes.append(note)
            return
        body = r.json()
        self.token = body.get("access_token")
        ident = urllib.parse.urlsplit(body.get("id", "")).path.split("/")
        self.org_id = ident[2] if len(ident) > 3 and ident[1] == "id" else None

    def headers(self, has_body: bool) -> dict[str, str]:
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if has_body:
            h["Content-Type"] = "application/json"
        return h

    def seed(self, sobject: str, fields: dict[str, Any]) -> str | None:
        r = self.http.post(f"{self.base}/__emulator/records/{sobject}", json=[fields], timeout=60)
        if r.status_code not in (200, 201):
            note = f"seeding {sobject} answered {r.status_code}: {r.text[:160]}"
            if note not in self.notes:
                self.notes.append(note)
            return None
        body = r.json()
        ids = body.get("ids") if isinstance(body, dict) else body
        if isinstance(ids, list) and ids:
            first = ids[0]
            return first if isinstance(first, str) else first.get("id")
        return None

    # -- one cassette --
    def replay(self, cassette: str, items: list[Interaction], families: collections.Counter[str]) -> list[Outcome]:
        in_surface = [(it, family(it.method, it.uri, it.body)) for it in items]
        todo = [it for it, fam in in_surface if fam in IN_SURFACE_FAMILIES]
        for _, fam in in_surface:
            if fam not in IN_SURFACE_FAMILIES:
                families[fam] += 1
        if not todo:
            return []
        self.reset()
        ids = IdMap()
        if self.org_id:
            ids.add("00D0xORGID00000000", self.org_id)  # CumulusCI's placeholder org id
        default = next((v for v in map(self.version_of, items) if v), DEFAULT_VERSION)
        return [self.replay_one(it, ids, self.version_of(it) or default) for it in todo]

    @staticmethod
    def version_of(it: Interaction) -> str | None:
        """The API version a `vxx.0` recording was made with, as its own URLs show. Describe keys
        differ by version, so each interaction is replayed at its own (shared include files were
        recorded at different versions)."""
        for text in (it.uri, it.body or "", it.response_body):
            m = VERSION_IN_URL.search(text)
            if m:
                return m.group(1)
        return None

    def rewrite(self, text: str, ids: IdMap, version: str) -> str:
        text = RECORDED_HOST.sub(self.base, text)
        text = text.replace("/vxx.0/", f"/v{version}/")
        return ids.rewrite(text)

    def replay_one(self, it: Interaction, ids: IdMap, version: str) -> Outcome:
        label = f"{it.method} {urllib.parse.unquote_plus(urllib.parse.urlsplit(it.uri).path)}"
        query = urllib.parse.urlsplit(it.uri).query
        if query:
            label += "?" + urllib.parse.unquote_plus(query)[:120]
        try:
            expected: Any = json.loads(it.response_body) if it.response_body.strip() else None
        except json.JSONDecodeError:
            expected = it.response_body
        self.seed_records_of(expected, ids)

        url = self.rewrite(it.uri, ids, version)
        body = self.rewrite(it.body, ids, version) if isinstance(it.body, str) and it.body else None
        r = self.http.request(it.method, url, data=body.encode() if body else None, headers=self.headers(body is not None), timeout=120)
        try:
            actual: Any = r.json() if r.content.strip() else None
        except ValueError:
            actual = r.text
        out = Comparison()
        if r.status_code != it.status:
            out.diffs.append(f"status: expected {it.status}, got {r.status_code}: {short(actual, 300)}")
        else:
            compare(expected, actual, "$", out, lenient_keys=self.lenient_root(it))
            ids.learn(expected, actual)
        if self.verbose:
            print(f"  {it.cassette}#{it.index} {label} -> {r.status_code} ({len(out.diffs)} diffs)", file=sys.stderr)
        return Outcome(it.cassette, it.index, label, out.diffs, out.coverage)

    @staticmethod
    def lenient_root(it: Interaction) -> bool:
        # /limits is a map keyed by limit name; which limits exist depends on the org's edition.
        return urllib.parse.urlsplit(it.uri).path.rstrip("/").endswith("/limits")

    def seed_records_of(self, expected: Any, ids: IdMap) -> None:
        """Seed the records an answer shows that the replay has not met yet (see module doc)."""
        records = [r for r in walk_records(expected) if looks_like_id(str(r.get("Id", ""))) and ids.get(r["Id"]) is None]
        if not records:
            return
        recorded_ids = {to18(r["Id"]) for r in records}
        # Parents first: a record whose id fields point at another unseeded record waits for it.
        pending = list(records)
        for _ in range(len(pending) + 1):
            if not pending:
                break
            later = []
            for rec in pending:
                waits = any(
                    isinstance(v, str) and looks_like_id(v) and to18(v) in recorded_ids and ids.get(v) is None and v != rec["Id"]
                    for k, v in rec.items()
                    if k not in SYSTEM_FIELDS
                )
                if waits and len(later) < len(pending) - 1:
                    later.append(rec)
                    continue
                fields = {}
                for k, v in rec.items():
                    if k in SYSTEM_FIELDS or isinstance(v, (dict, list)):
                        continue
                    if isinstance(v, str) and looks_like_id(v) and (k.endswith("Id") or k.endswith("__c")):
                        mapped = ids.get(v)
                        if mapped is None:
                            continue
                        v = mapped
                    fields[k] = v
                new_id = self.seed(rec["attributes"]["type"], fields)
                if new_id:
                    ids.add(rec["Id"], new_id)
            pending = later


def walk_records(node: Any) -> Iterator[dict[str, Any]]:
    """sObject records inside an answer (dicts with attributes.type and an Id, taken from
    attributes.url when the query did not select Id), nested ones too."""
    if isinstance(node, dict):
        attrs = node.get("attributes")
        if isinstance(attrs, dict) and isinstance(attrs.get("type"), str) and attrs["type"] != "AggregateResult":
            if "Id" in node:
                yield node
            elif isinstance(attrs.get("url"), str):
                tail = attrs["url"].rstrip("/").rsplit("/", 1)[-1]
                if looks_like_id(tail):
                    yield {**node, "Id": tail}
        for v in node.values():
            yield from walk_records(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_records(v)


# ------------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    args = [a for a in argv[1:] if not a.startswith("--")]
    verbose = "--verbose" in argv
    report_path = None
    if "--json" in argv:
        i = argv.index("--json")
        if i + 1 >= len(argv):
            print("--json needs a file name", file=sys.stderr)
            return 2
        report_path = argv[i + 1]
        args = [a for a in args if a != report_path]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    raw = sys.stdin.readline() if args[0] == "-" else args[0]
    try:
        info = json.loads(raw)
    except json.JSONDecodeError as exc:
        print(f"the argument is not the emulator's connection JSON: {exc}", file=sys.stderr)
        return 2

    root = fetch_cumulusci.ensure()
    cassettes = load_cassettes(root)
    replayer = Replayer(info, verbose)
    families: collections.Counter[str] = collections.Counter()
    hand_edited = 0
    outcomes: list[Outcome] = []
    total = 0
    for name, items in cassettes:
        total += len(items)
        if hand_written(name):
            hand_edited += len(items)
            continue
        outcomes.extend(replayer.replay(name, items, families))

    matched = [o for o in outcomes if not o.diffs]
    mismatched = [o for o in outcomes if o.diffs]
    distinct = {(o.request) for o in outcomes}
    coverage = collections.Counter(f"{o.request.split('?')[0]} {c}" for o in outcomes for c in o.coverage)
    out_of_surface = sum(families.values())

    print(f"cassettes: {len(cassettes)}  recorded interactions: {total}")
    print(f"hand-written (not real responses, skipped): {hand_edited}")
    print(f"out of surface: {out_of_surface}")
    for fam, n in families.most_common():
        print(f"    {n:4d}  {fam}")
    print(f"compared: {len(outcomes)} ({len(distinct)} distinct requests)  matched: {len(matched)}  mismatched: {len(mismatched)}")
    for note in replayer.notes:
        print(f"note: {note}")
    if coverage:
        print(f"coverage gaps (recorded standard entries the emulator does not model): {len(coverage)} distinct")
    for o in mismatched:
        print(f"MISMATCH {o.cassette}#{o.index} {o.request}")
        for d in o.diffs[:12]:
            print(f"    {d}")
        if len(o.diffs) > 12:
            print(f"    ... and {len(o.diffs) - 12} more differences")
    if report_path:
        Path(report_path).write_text(
            json.dumps(
                {
                    "compared": len(outcomes),
                    "matched": len(matched),
                    "out_of_surface": dict(families),
                    "hand_written": hand_edited,
                    "notes": replayer.notes,
                    "mismatches": [o.__dict__ for o in mismatched],
                    "coverage_gaps": dict(coverage.most_common()),
                },
                indent=2,
            )
        )
    print(
        f"RESULT compared={len(outcomes)} matched={len(matched)} out_of_surface={out_of_surface} "
        f"hand_written={hand_edited}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
