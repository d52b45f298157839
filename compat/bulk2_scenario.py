#!/usr/bin/env python3
"""Drive the emulator's Bulk API 2.0 with the unmodified `simple-salesforce` client over HTTPS.

Usage:
    python compat/bulk2_scenario.py '<connection info JSON>' [external id field]

The JSON is the line `forcebridge emulator --tls` prints (`EmulatorHandle::connection_info()`).
The Account object must have the external id field (default `Bulk_Key__c`); the Rust test
compat_bulk2.rs adds it before running this script.

Steps: sign in (OAuth username-password, then simple-salesforce with instance_url + session_id
and a `requests.Session` that trusts the emulator's CA), `bulk2.Account.insert` 10,000 rows,
`bulk2.Account.upsert` 50,000 rows keyed by the external id (10,000 match → updated, 40,000 new →
created), read the results back (`get_successful_records`, `get_failed_records`) and check created
vs updated per row, then read everything back with a `bulk2` query over several locator pages.
One line per step; the last line is `PASS: ...` and the exit status 0 only when all steps passed.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time

import requests
from simple_salesforce import Salesforce

EXISTING = 10_000
UPSERTED = 50_000
PAGE = 20_000


def fail(message: str) -> None:
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def check(cond: bool, message: str) -> None:
    if not cond:
        fail(message)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def main() -> None:
    if len(sys.argv) < 2:
        fail("usage: bulk2_scenario.py '<connection info JSON>' [external id field]")
    raw = sys.stdin.readline() if sys.argv[1] == "-" else sys.argv[1]
    info = json.loads(raw)
    key = sys.argv[2] if len(sys.argv) > 2 else "Bulk_Key__c"
    verify = info.get("ca_file") or True

    token = requests.Session()
    token.trust_env = False
    token = token.post(
        info["token_url"],
        data={
            "grant_type": "password",
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
            "username": info["username"],
            "password": info["password"] + info["security_token"],
        },
        verify=verify,
        timeout=60,
    )
    check(token.status_code == 200, f"token request: {token.status_code} {token.text}")
    session = requests.Session()
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify`; machines
    # that set them (many CI images do) would then reject the emulator's certificate.
    session.trust_env = False
    session.verify = verify
    sf = Salesforce(
        instance_url=info["instance_url"],
        session_id=token.json()["access_token"],
        session=session,
        version="66.0",
    )
    print("ok   signed in", flush=True)

    started = time.monotonic()
    seed = [{"Name": f"Seed {i:05d}", key: f"K-{i:05d}"} for i in range(EXISTING)]
    inserted = sf.bulk2.Account.insert(records=seed, wait=1)
    check(len(inserted) == 1, f"one insert job: {inserted}")
    check(inserted[0]["numberRecordsProcessed"] == EXISTING, f"insert processed: {inserted}")
    check(inserted[0]["numberRecordsFailed"] == 0, f"insert failed rows: {inserted}")
    seeded = {
        r[key]: r["sf__Id"]
        for r in rows(sf.bulk2.Account.get_successful_records(inserted[0]["job_id"]))
    }
    check(len(seeded) == EXISTING, f"insert successful results: {len(seeded)}")
    print(f"ok   bulk2 insert of {EXISTING} rows", flush=True)

    records = [{key: f"K-{i:05d}", "Name": f"Upserted {i:05d}"} for i in range(UPSERTED)]
    upserted = sf.bulk2.Account.upsert(records=records, external_id_field=key, wait=1)
    processed = sum(r["numberRecordsProcessed"] for r in upserted)
    failed = sum(r["numberRecordsFailed"] for r in upserted)
    check(processed == UPSERTED, f"upsert processed: {upserted}")
    check(failed == 0, f"upsert failed rows: {upserted}")
    created = updated = 0
    for job in upserted:
        for r in rows(sf.bulk2.Account.get_successful_records(job["job_id"])):
            n = int(r[key].split("-")[1])
            if r["sf__Created"] == "true":
                created += 1
                check(n >= EXISTING, f"{r[key]} existed but was created")
            else:
                updated += 1
                check(n < EXISTING, f"{r[key]} was new but updated")
                check(r["sf__Id"] == seeded[r[key]], f"{r[key]} updated another record")
            check(r["Name"] == f"Upserted {n:05d}", f"original columns kept: {r}")
        check(rows(sf.bulk2.Account.get_failed_records(job["job_id"])) == [], "no failed records")
    check(created == UPSERTED - EXISTING, f"created {created}")
    check(updated == EXISTING, f"updated {updated}")
    print(f"ok   bulk2 upsert of {UPSERTED} rows: {created} created, {updated} updated", flush=True)

    pages = 0
    seen = 0
    for page in sf.bulk2.Account.query(
        f"SELECT Id, Name, {key} FROM Account WHERE {key} LIKE 'K-%'", max_records=PAGE, wait=1
    ):
        pages += 1
        for r in rows(page):
            seen += 1
            check(r["Name"].startswith("Upserted "), f"query sees the upserted values: {r}")
    check(seen == UPSERTED, f"query rows: {seen}")
    check(pages == -(-UPSERTED // PAGE), f"query pages: {pages}")
    print(f"ok   bulk2 query read back {seen} rows in {pages} pages", flush=True)
    print(f"PASS: bulk2 insert, upsert ({created} created, {updated} updated) and query "
          f"in {time.monotonic() - started:.1f}s", flush=True)


if __name__ == "__main__":
    main()
