"""pysfpubsub (a published Pub/Sub API client: grpcio and avro underneath, as Salesforce's own
examples) against the forcebridge emulator, unmodified: SOAP login, GetTopic, Subscribe from
EARLIEST, GetSchema, Avro decoding, and the changedFields / nulledFields bitmaps decoded into
field names the way Salesforce documents (bit i of the hexadecimal number = field i of the schema).

Usage: python pubsub_scenario.py BASE_URL USERNAME PASSWORD+TOKEN GRPC_HOST GRPC_PORT CA_FILE TOPIC N
Prints one JSON line per decoded event, then OK.
"""

import json
import os
import sys
import tempfile

import certifi

base_url, username, password, grpc_host, grpc_port, ca_file, topic, wanted = sys.argv[1:9]
wanted = int(wanted)

# The client reads certifi's bundle at import time; trust the emulator's CA beside the public ones
# (the client itself is not touched).
bundle = tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False)
with open(certifi.where(), "rb") as public, open(ca_file, "rb") as ours:
    bundle.write(public.read() + b"\n" + ours.read())
bundle.close()
certifi.where = lambda: bundle.name
# The SOAP login goes through requests, which honours this variable.
os.environ["REQUESTS_CA_BUNDLE"] = bundle.name

import avro.schema  # noqa: E402
from pysfpubsub.pubsub import Client  # noqa: E402


def field_names(schema_json, bitmaps):
    """Salesforce's documented bitmap decoding (top-level fields only)."""
    fields = [f.name for f in avro.schema.parse(schema_json).fields]
    names = []
    for bitmap in bitmaps:
        if not bitmap.startswith("0x"):
            continue
        bits = bin(int(bitmap[2:], 16))[2:][::-1]
        names += [fields[i] for i, b in enumerate(bits) if b == "1"]
    return names


client = Client(base_url, username, password, grpc_host, int(grpc_port), api_version="66.0")
client.auth()
print("step: signed in", flush=True)
info = client.get_topic(topic)
assert info.can_subscribe, info
print(f"step: topic {info.topic_name} schema {info.schema_id}", flush=True)

seen = []


class Done(Exception):
    pass


def callback(response, c):
    for ev in response.events:
        schema_json = c.get_schema_json(ev.event.schema_id)
        record = c.decode(schema_json, ev.event.payload)
        header = record["ChangeEventHeader"]
        out = {
            "replayId": ev.replay_id.hex(),
            "entityName": header["entityName"],
            "changeType": header["changeType"],
            "recordIds": header["recordIds"],
            "transactionKey": header["transactionKey"],
            "changedFields": field_names(schema_json, header["changedFields"]),
            "nulledFields": field_names(schema_json, header["nulledFields"]),
            "Name": record.get("Name"),
        }
        print(json.dumps(out), flush=True)
        seen.append(out)
    if len(seen) >= wanted:
        raise Done()
    if response.pending_num_requested == 0:
        c.release_subscription_semaphore()


try:
    client.subscribe(topic, "EARLIEST", b"", wanted, callback)
except Done:
    print("OK", flush=True)
    sys.stdout.flush()
    os._exit(0)
print(f"FAIL: the stream ended after {len(seen)} events", flush=True)
os._exit(1)
