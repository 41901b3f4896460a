#!/usr/bin/env python3
"""A TAXII envelope of COUNT STIX 2.1 objects for the inbox benchmark (deploy/bench-taxii-inbox):
reports of 499 indicators each (a picture holds at most 500), every object new for TAG.

    inbox_envelope.py OUT COUNT TAG [MODIFIED]
"""
import json
import sys
import uuid

out, count, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
modified = sys.argv[4] if len(sys.argv) > 4 else "2027-03-01T10:00:00.000Z"
created = "2027-03-01T10:00:00.000Z"
ns = uuid.UUID("0f7a1d3e-2b4c-4d5e-8f60-718293a4b5c6")
amber = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
per_report = 499


def sid(kind, name):
    return f"{kind}--{uuid.uuid5(ns, f'{tag}:{kind}:{name}')}"


objects = []
r = 0
while len(objects) < count:
    n = min(per_report, count - len(objects) - 1)
    indicators = []
    for i in range(n):
        value = f"site-{r}-{i}.bench.example"
        indicators.append({
            "type": "indicator", "spec_version": "2.1", "id": sid("indicator", f"{r}:{i}"),
            "created": created, "modified": created, "name": value,
            "pattern": f"[domain-name:value = '{value}']", "pattern_type": "stix",
            "valid_from": created, "indicator_types": ["malicious-activity"],
            "object_marking_refs": [amber],
        })
    objects.append({
        "type": "report", "spec_version": "2.1", "id": sid("report", r), "created": created,
        "modified": modified, "published": created, "name": f"Benchmark report {r} ({tag})",
        "description": "Domains seen in a campaign.", "lang": "en", "labels": ["domain:cyber"],
        "confidence": 70, "object_refs": [o["id"] for o in indicators], "object_marking_refs": [amber],
    })
    objects.extend(indicators)
    r += 1

with open(out, "w") as f:
    json.dump({"objects": objects}, f)
