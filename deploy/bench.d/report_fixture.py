#!/usr/bin/env python3
"""Makes the fixture of deploy/bench-render: N published pictures of the author's
organisation (copies of a demo picture's content, with their domains and severities
varied) and a published report including them all, each with four eyes (the author
writes and submits, the second approver approves, the first publishes). Prints the
report's id. Needs the three accounts' tokens."""
import argparse
import http.client
import json
import ssl
import sys
import urllib.parse


class Api:
    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
        self.prefix = u.path.rstrip("/")

    def call(self, method, path, token, body=None):
        headers = {"authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            headers["content-type"] = "application/json"
            data = json.dumps(body)
        self.conn.request(method, self.prefix + path, body=data, headers=headers)
        res = self.conn.getresponse()
        text = res.read()
        if res.status >= 300:
            sys.exit(f"{method} {path}: {res.status} {text[:300]!r}")
        return json.loads(text) if text else None


def lifecycle(api, kind, ident, a):
    api.call("POST", f"/{kind}/{ident}/submit", a.author, {})
    api.call("POST", f"/{kind}/{ident}/approve", a.approver2, {})
    api.call("POST", f"/{kind}/{ident}/publish", a.approver, {})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("base", help="https://host:port/api/v1")
    p.add_argument("content", help="a picture's content (JSON file)")
    p.add_argument("--pictures", type=int, default=50)
    p.add_argument("--author", required=True)
    p.add_argument("--approver", required=True)
    p.add_argument("--approver2", required=True)
    a = p.parse_args()
    api = Api(a.base)
    base = json.load(open(a.content))
    base.pop("election_id", None)
    base.pop("election_phase", None)
    base["tier"] = "group"
    base["tlp"] = "AMBER"
    base.pop("tlp_community", None)
    base["named_recipients"] = []
    base["related"] = []
    for ind in base.get("indicators", []):
        if ind.get("tlp") in ("CLEAR", "GREEN"):
            ind["tlp"] = "AMBER"
    domains = [["information_influence"], ["cyber"], ["hybrid"], ["information_influence", "cyber"]]
    impacts = ["minor", "moderate", "significant", "severe"]
    ids = []
    for i in range(a.pictures):
        c = json.loads(json.dumps(base))
        c["domains"] = domains[i % len(domains)]
        c["primary_domain"] = c["domains"][0]
        if "information_influence" not in c["domains"]:
            c["disarm_techniques"] = []
        if "cyber" not in c["domains"]:
            c["attack_techniques"] = []
        c["impact_on_conduct"] = impacts[i % len(impacts)]
        for lang in ("fi", "sv", "en"):
            if c["title"].get(lang):
                c["title"][lang] = f"{c['title'][lang][:120]} #{i + 1}"
        created = api.call("POST", "/pictures", a.author, c)
        lifecycle(api, "pictures", created["id"], a)
        ids.append(created["id"])
    report = {
        "original_lang": "fi",
        "title": {"fi": "Yhteinen tilannekuva", "sv": "Gemensam lägesbild", "en": "Common situation picture"},
        "summary": {"fi": "Vaalipäivän tilanne", "sv": "Läget på valdagen", "en": "The situation on election day"},
        "assessment": {"fi": "**Arvio**: tilanne on hallinnassa.", "sv": "**Bedömning**: läget är under kontroll.",
                       "en": "**Assessment**: the situation is under control."},
        "pictures": ids,
        "tier": "group",
        "tlp": "AMBER",
    }
    created = api.call("POST", "/reports", a.author, report)
    lifecycle(api, "reports", created["id"], a)
    print(created["id"])


if __name__ == "__main__":
    main()
