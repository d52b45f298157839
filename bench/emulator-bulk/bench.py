#!/usr/bin/env python3
"""Bulk API 2.0 benchmark against a running `forcebridge emulator` (standard library only).

Usage: python3 bench/emulator-bulk/bench.py '<connection info JSON>' [rows]

1. ingest: create an insert job for Task, upload one CSV of `rows` rows, close it, poll until
   JobComplete; prints the upload time and the upload-to-complete wall time.
2. query: a query job over those rows, read to the end page by page (Sforce-Locator); prints
   the wall time from job creation to the last page.
Peak memory is measured outside, by /usr/bin/time -v around the emulator (see run.sh).
"""

import json
import sys
import time
import urllib.parse
import urllib.request

ROWS = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
info = json.loads(sys.argv[1])
base = info["instance_url"] + "/services/data/v66.0"


def call(method, path, body=None, ctype="application/json", raw=False):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(base + path if path.startswith("/") else path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    if data is not None:
        req.add_header("Content-Type", ctype)
    with urllib.request.urlopen(req, timeout=3600) as resp:
        payload = resp.read()
        if raw:
            return resp.headers, payload
        return json.loads(payload) if payload else None


form = urllib.parse.urlencode({
    "grant_type": "password",
    "client_id": info["client_id"],
    "client_secret": info["client_secret"],
    "username": info["username"],
    "password": info["password"] + info["security_token"],
}).encode()
with urllib.request.urlopen(info["token_url"], data=form) as r:
    TOKEN = json.loads(r.read())["access_token"]


def wait(kind, job_id):
    while True:
        job = call("GET", f"/jobs/{kind}/{job_id}")
        if job["state"] not in ("Open", "UploadComplete", "InProgress"):
            return job
        time.sleep(0.2)


csv_body = ("Subject,Description\n" + "".join(
    f"Bench task {i},Row {i} of the ingest benchmark\n" for i in range(ROWS))).encode()
print(f"CSV: {ROWS} rows, {len(csv_body) / 1e6:.1f} MB", flush=True)

t0 = time.monotonic()
job = call("POST", "/jobs/ingest", {"object": "Task", "operation": "insert", "lineEnding": "LF"})
call("PUT", f"/jobs/ingest/{job['id']}/batches", csv_body, "text/csv")
t_upload = time.monotonic() - t0
call("PATCH", f"/jobs/ingest/{job['id']}", {"state": "UploadComplete"})
done = wait("ingest", job["id"])
t_ingest = time.monotonic() - t0
del csv_body
assert done["state"] == "JobComplete", done
assert done["numberRecordsProcessed"] == ROWS and done["numberRecordsFailed"] == 0, done
print(f"ingest: upload {t_upload:.1f}s, upload to JobComplete {t_ingest:.1f}s "
      f"({ROWS / t_ingest:,.0f} rows/s)", flush=True)

t0 = time.monotonic()
job = call("POST", "/jobs/query", {"operation": "query", "query": "SELECT Id, Subject, Status FROM Task WHERE Subject LIKE 'Bench task %'"})
wait("query", job["id"])
t_ready = time.monotonic() - t0
rows = 0
pages = 0
locator = None
while True:
    q = "?maxRecords=100000" + (f"&locator={locator}" if locator else "")
    headers, payload = call("GET", f"/jobs/query/{job['id']}/results{q}", raw=True)
    pages += 1
    rows += int(headers["Sforce-NumberOfRecords"])
    locator = headers["Sforce-Locator"]
    if locator == "null":
        break
t_query = time.monotonic() - t0
assert rows == ROWS, rows
print(f"query: JobComplete after {t_ready:.1f}s, {rows} rows in {pages} pages read by {t_query:.1f}s "
      f"({ROWS / t_query:,.0f} rows/s)", flush=True)
