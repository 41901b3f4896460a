"""OpenTAXII's WSGI application for gunicorn, with one fix: OpenTAXII 0.9.3 encodes its
TAXII 2 answers with the standard library's json.dumps, which cannot encode the UUIDs its
PostgreSQL models return, so listing collections, a POST's status and the job status fail
with a server error on PostgreSQL. Here those answers encode a UUID as its string form;
nothing else changes. Used as gunicorn's configuration module and application
(`--config python:opentaxii_serve opentaxii_serve:app`) by deploy/lib/opentaxii.sh."""
import functools
import json
import types
import uuid

import opentaxii.taxii2.http as taxii2_http


class _Encoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, uuid.UUID):
            return str(o)
        return super().default(o)


taxii2_http.json = types.SimpleNamespace(dumps=functools.partial(json.dumps, cls=_Encoder))

from opentaxii.http import app, logconfig_dict  # noqa: E402,F401  (after the fix; gunicorn reads both)


def post_fork(server, worker):
    """gunicorn's hook in each worker after the fork: the SQLAlchemy pools the master
    filled while loading the application are the master's; a worker that used them would
    share its database connections with its siblings, and over TLS (the test cluster
    turns it on) a shared connection fails with "decryption failed or bad record mac".
    Each worker drops the inherited connections (without closing the master's) and
    opens its own."""
    taxii_server = getattr(app, "taxii_server", None)
    apis = [getattr(getattr(taxii_server, "auth", None), "api", None)]
    taxii2 = getattr(getattr(taxii_server, "servers", None), "taxii2", None)
    apis.append(getattr(getattr(taxii2, "persistence", None), "api", None))
    for api in apis:
        db = getattr(api, "db", None)
        if db is not None:
            db.session.remove()
            db.engine.dispose(close=False)


def when_ready(server):
    """gunicorn's hook once it listens: with OPENTAXII_STOP_WITH_PARENT=1 (the tests set
    it) gunicorn stops when the process that started it is gone, even one killed before
    it could stop it."""
    import os
    import signal
    import threading
    import time

    if os.environ.get("OPENTAXII_STOP_WITH_PARENT") != "1":
        return
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()
