#!/usr/bin/env python3
"""Side-by-side benchmark, variant (c): upsert records by external id with simple-salesforce's
`bulk2` (the version pinned in compat/requirements.txt) against a running emulator.

Usage: CONN='<forcebridge emulator --tls JSON line>' ROWS=100000 KEY=Bench_Key__c \
       compat/.venv/bin/python bench/client/simple_salesforce_bulk2.py

Same work as `upsert_bench bulk` (crates/forcebridge-salesforce/examples/upsert_bench.rs):
pass 1 upserts rows 0..ROWS/2 (all created), pass 2 upserts rows 0..ROWS (first half updated,
second half created); after each job the successful-results CSV is read to count created vs
updated (our client reads it too, to report every row's outcome). Records are handed over as a
list of dicts (`records=`), the way simple-salesforce's docs show it. Polls every second
(`wait=1`), as our bench does. Prints one `RESULT` line; API calls and peak RSS are measured by
bench/client/run.sh from outside.
"""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import sys
import time

import requests
from simple_salesforce import Salesforce


def main() -> None:
    info = json.loads(os.environ["CONN"])
    rows = int(os.environ.get("ROWS", "100000"))
    key = os.environ.get("KEY", "Bench_Key__c")
    verify = info.get("ca_file") or True

    started = time.monotonic()
    token = requests.Session()
    token.trust_env = False
    resp = token.post(
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
    if resp.status_code != 200:
        sys.exit(f"token request: {resp.status_code} {resp.text}")
    session = requests.Session()
    session.trust_env = False
    session.verify = verify
    sf = Salesforce(
        instance_url=info["instance_url"],
        session_id=resp.json()["access_token"],
        session=session,
        version="62.0",
    )

    phases = []
    for to, pass_no in ((rows // 2, 1), (rows, 2)):
        t = time.monotonic()
        records = [{key: f"BK-{i:08d}", "Name": f"Bench {i} pass {pass_no}"} for i in range(to)]
        jobs = sf.bulk2.Account.upsert(records=records, external_id_field=key, wait=1)
        del records
        created = updated = failed = 0
        for job in jobs:
            failed += int(job["numberRecordsFailed"])
            text = sf.bulk2.Account.get_successful_records(job["job_id"])
            for r in csv.DictReader(io.StringIO(text)):
                if r["sf__Created"] == "true":
                    created += 1
                else:
                    updated += 1
        phases.append(
            f"pass{pass_no}: rows={to} created={created} updated={updated} failed={failed} "
            f"jobs={len(jobs)} seconds={time.monotonic() - t:.2f}"
        )
    hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"RESULT client=simple-salesforce-bulk2 rows={rows} seconds={time.monotonic() - started:.2f} "
        f"rss_hwm_kib={hwm} | " + " | ".join(phases),
        flush=True,
    )


if __name__ == "__main__":
    main()
