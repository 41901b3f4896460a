#!/usr/bin/env python3
"""Pages through the objects of a TAXII 2.1 collection over one keep-alive connection
and prints a JSON summary: objects, pages, seconds, objects_per_second (and with --dump,
writes every object to a file, one JSON per line). For deploy/bench-taxii."""
import argparse
import base64
import http.client
import json
import ssl
import sys
import time
import urllib.parse


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url", help="…/collections/<id>/objects/ or …/manifest/")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--bearer")
    p.add_argument("--basic", help="user:password")
    p.add_argument("--cafile")
    p.add_argument("--dump")
    p.add_argument("--timeout", type=float, default=0, help="give up after this many seconds (0: never)")
    p.add_argument("--max", type=int, default=0, help="stop once this many objects have come (0: all)")
    a = p.parse_args()
    u = urllib.parse.urlsplit(a.url)
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=ssl.create_default_context(cafile=a.cafile),
                                           timeout=a.timeout or None)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=a.timeout or None)
    headers = {"Accept": "application/taxii+json;version=2.1"}
    if a.bearer:
        headers["Authorization"] = "Bearer " + a.bearer
    if a.basic:
        headers["Authorization"] = "Basic " + base64.b64encode(a.basic.encode()).decode()
    dump = open(a.dump, "w", encoding="utf-8") if a.dump else None
    count = pages = 0
    nxt = None
    finished = True
    start = time.perf_counter()
    while True:
        query = {"limit": str(a.limit)}
        if nxt:
            query["next"] = nxt
        try:
            conn.request("GET", u.path + "?" + urllib.parse.urlencode(query), headers=headers)
            r = conn.getresponse()
            body = r.read()
        except (TimeoutError, OSError) as e:
            print(f"gave up: {e}", file=sys.stderr)
            finished = False
            break
        if r.status != 200:
            sys.exit(f"HTTP {r.status}: {body[:500]!r}")
        page = json.loads(body)
        pages += 1
        objs = page.get("objects", [])
        count += len(objs)
        if dump:
            for o in objs:
                dump.write(json.dumps(o, separators=(",", ":")) + "\n")
        if not page.get("more") or (a.max and count >= a.max):
            break
        nxt = page.get("next")
        if not nxt:
            sys.exit("more without next")
        if a.timeout and time.perf_counter() - start > a.timeout:
            finished = False
            break
    seconds = time.perf_counter() - start
    print(json.dumps({"objects": count, "pages": pages, "seconds": round(seconds, 3), "finished": finished,
                      "objects_per_second": round(count / seconds, 1) if seconds > 0 else None}))


if __name__ == "__main__":
    main()
