#!/usr/bin/env python3
"""Print CumulusCI's recorded Salesforce interactions as one JSON document on stdout.

Usage: python cassettes.py UNPACKED_WHEEL_DIR
Reads every VCR cassette (YAML) under cumulusci/ in the unpacked wheel (fetched and verified by
compat/fetch_cumulusci.py) and prints {"interactions": [...]} with, per interaction: file, method,
path (host removed), query, request_body, status, response_body, response_headers. Only text
bodies are kept. The Rust replay test (tests/replay.rs) decides what to replay.
"""

import json
import sys
import urllib.parse
from pathlib import Path

import yaml


def body_text(b):
    if b is None:
        return None
    if isinstance(b, dict):
        b = b.get("string")
    if isinstance(b, bytes):
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return b if isinstance(b, str) else None


def main():
    root = Path(sys.argv[1]) / "cumulusci"
    out = []
    for f in sorted(root.rglob("*.yaml")):
        if "cassettes" not in str(f.parent):
            continue
        try:
            doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        except Exception:  # noqa: BLE001 - a cassette we cannot read is simply not replayed
            continue
        if isinstance(doc, dict) and "interactions" in doc:
            items = doc["interactions"]
        elif isinstance(doc, dict) and "request" in doc:
            items = [doc]
        else:
            continue
        for i, it in enumerate(items or []):
            try:
                req, resp = it["request"], it["response"]
                url = urllib.parse.urlsplit(req["uri"])
                headers = {k: (v[0] if isinstance(v, list) and v else v) for k, v in (resp.get("headers") or {}).items()}
                out.append({
                    "file": f"{f.relative_to(root)}#{i}",
                    "method": req["method"],
                    "path": url.path,
                    "query": url.query,
                    "request_body": body_text(req.get("body")),
                    "status": resp["status"]["code"],
                    "response_body": body_text(resp.get("body")),
                    "response_headers": {k: v for k, v in headers.items() if isinstance(v, str)},
                })
            except (KeyError, TypeError):
                continue
    json.dump({"interactions": out}, sys.stdout)


if __name__ == "__main__":
    main()
