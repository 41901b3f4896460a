#!/usr/bin/env python3
"""Parses every Nth object of a JSON Lines dump with the OASIS `stix2` library (strict:
no custom content) and prints how many were checked, by type, and any failures."""
import collections
import json
import sys

import stix2

path, step = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1
checked, failed = collections.Counter(), []
for n, line in enumerate(open(path, encoding="utf-8")):
    if n % step:
        continue
    o = json.loads(line)
    try:
        stix2.parse(o, allow_custom=False, version="2.1")
        checked[o["type"]] += 1
    except Exception as e:  # noqa: BLE001 - report every kind of refusal
        failed.append(f"{o.get('id')}: {type(e).__name__}: {e}")
print(json.dumps({"checked": sum(checked.values()), "by_type": checked, "failed": len(failed)}))
for f in failed[:10]:
    print(f, file=sys.stderr)
sys.exit(1 if failed else 0)
