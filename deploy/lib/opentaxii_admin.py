#!/usr/bin/env python3
"""Sets up and fills OpenTAXII through its own Python APIs, with the configuration named
by OPENTAXII_CONFIG. Run by deploy/lib/opentaxii.sh with OpenTAXII's virtual environment.

  setup --user U --password P --title T [--alias A]
      tables, an administrator account, a default API root and a collection; prints
      {"api_root_id", "collection_id", "token"} as one line of JSON
  load COLLECTION_ID FILE
      adds the STIX objects of FILE (JSON Lines) to the empty collection, each id and
      version once; prints how many it added
"""
import argparse
import datetime
import json
import sys

from opentaxii.cli import app
from opentaxii.entities import Account
from opentaxii.persistence.sqldb import taxii2models
from opentaxii.taxii2.utils import DATETIMEFORMAT


def taxii2_api():
    return app.taxii_server.servers.taxii2.persistence.api


def setup(a):
    auth = app.taxii_server.auth.api
    # OpenTAXII 0.9.3 cannot store TAXII 2 permissions for an ordinary account (its
    # setter takes only TAXII 1's "read"/"modify" strings, its TAXII 2 check wants a list):
    # the account is an administrator.
    auth.update_account(Account(id=None, username=a.user, permissions={}, is_admin=True), password=a.password)
    api = taxii2_api()
    roots = [r for r in api.get_api_roots() if r.default]
    root = roots[0] if roots else api.add_api_root(title="sitrep", description="beside Sitrep", default=True)
    collection = api.add_collection(api_root_id=str(root.id), title=a.title, alias=a.alias)
    token = auth.authenticate(a.user, a.password)
    print(json.dumps({"api_root_id": str(root.id), "collection_id": str(collection.id), "token": token}))


def version(obj):
    # The object's version as TAXII 2.1 defines it: `modified`, else `created` (objects
    # such as marking definitions have no `modified`; OpenTAXII's POST handler assumes one).
    stamp = obj.get("modified") or obj["created"]
    return datetime.datetime.strptime(stamp, DATETIMEFORMAT).replace(tzinfo=datetime.timezone.utc)


def load(a):
    db = taxii2_api().db
    count = 0
    batch = []
    # Like OpenTAXII's add_objects, an object whose id and version the collection holds
    # already is not added again (a TAXII export carries an identity or marking on every
    # page that refers to it). Loads into an empty collection.
    seen = set()
    with open(a.file, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            obj = json.loads(line)
            if (obj["id"], version(obj)) in seen:
                continue
            seen.add((obj["id"], version(obj)))
            # The row OpenTAXII's add_objects writes for a posted object.
            batch.append(taxii2models.STIXObject(
                id=obj["id"],
                collection_id=a.collection,
                type=obj["id"].split("--")[0],
                spec_version=obj.get("spec_version", "2.1"),
                date_added=datetime.datetime.now(datetime.timezone.utc),
                version=version(obj),
                serialized_data={k: v for (k, v) in obj.items() if k not in ("id", "type", "spec_version")},
            ))
            count += 1
            if len(batch) == 5000:
                db.session.add_all(batch)
                db.session.commit()
                batch = []
    db.session.add_all(batch)
    db.session.commit()
    print(count)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--user", required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--title", required=True)
    s.add_argument("--alias")
    s.set_defaults(run=setup)
    s = sub.add_parser("load")
    s.add_argument("collection")
    s.add_argument("file")
    s.set_defaults(run=load)
    a = p.parse_args()
    with app.app_context():
        a.run(a)


if __name__ == "__main__":
    sys.exit(main())
