#!/usr/bin/env python3
"""Writes medallion's memory-backend data and configuration for one collection holding
the given objects with the given manifest (both JSON Lines, as taxii_pager.py --dump
writes them). For deploy/bench-taxii.
usage: medallion_data.py OBJECTS MANIFEST COLLECTION_ID PORT OUT_DIR [COUNT]
(COUNT: only the first COUNT objects and manifest records; default all)"""
import json
import sys

objects_file, manifest_file, collection, port, out = sys.argv[1:6]
count = int(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[6] else None
session_timeout = 86400
read = lambda f: [json.loads(line) for line in open(f, encoding="utf-8")][:count]
data = {
    "/discovery": {"title": "bench", "default": f"http://127.0.0.1:{port}/api1/",
                   "api_roots": [f"http://127.0.0.1:{port}/api1/"]},
    "api1": {
        "information": {"title": "bench", "versions": ["application/taxii+json;version=2.1"],
                        "max_content_length": 104857600},
        "status": [],
        "collections": [{
            "id": collection, "title": "group", "can_read": True, "can_write": False,
            "media_types": ["application/stix+json;version=2.1"],
            "objects": read(objects_file), "manifest": read(manifest_file),
        }],
    },
}
json.dump(data, open(f"{out}/medallion-data.json", "w", encoding="utf-8"))
json.dump({
    "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                "filename": f"{out}/medallion-data.json", "session_timeout": session_timeout},
    "users": {"bench": "bench-password"},
    "taxii": {"max_page_size": 1000},
}, open(f"{out}/medallion-config.json", "w", encoding="utf-8"))
