"""An SMTP server for the notification tests (tests/api/helpers/mail.rs).

Listens on 127.0.0.1:PORT, requires STARTTLS (with CERT and KEY) and then AUTH with the
user and password in SMTP_SINK_USER / SMTP_SINK_PASSWORD, and writes every message it
accepts to FOLDER as <random>.json: the envelope recipients, the raw message, its
headers decoded, and its plain-text and HTML parts decoded (written to a temporary name
and renamed, so a reader never sees half a message). Prints
`ready` once it accepts connections, and stops when its standard input closes (when
the test process ends).

    python smtp_sink.py PORT FOLDER CERT KEY
"""

import email
import email.policy
import json
import logging
import os
import ssl
import sys
import uuid

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, folder):
        self.folder = folder

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        raw = raw if isinstance(raw, bytes) else raw.encode()
        message = email.message_from_bytes(raw, policy=email.policy.default)

        def part(kind):
            body = message.get_body(preferencelist=(kind,))
            return body.get_content() if body is not None else None

        record = {
            "rcpt": envelope.rcpt_tos,
            "raw": raw.decode("utf-8", "replace"),
            "headers": [[k, str(v)] for k, v in message.items()],
            "text": part("plain"),
            "html": part("html"),
        }
        name = uuid.uuid4().hex
        tmp = os.path.join(self.folder, name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.folder, name + ".json"))
        return "250 OK"


def main():
    port, folder, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    user = os.environ["SMTP_SINK_USER"].encode()
    password = os.environ["SMTP_SINK_PASSWORD"].encode()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
        return AuthResult(success=ok)

    # aiosmtpd warns about its own legacy attribute on every AUTH; errors still show.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    os.makedirs(folder, exist_ok=True)
    controller = Controller(
        Handler(folder),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
