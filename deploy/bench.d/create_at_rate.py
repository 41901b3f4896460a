"""A light write load for the benchmarks: creates pictures over HTTPS at a fixed rate.

    python3 create_at_rate.py RATE TOKEN BODY_FILE URL OUT_FILE

POSTs the body in BODY_FILE to URL/api/v1/pictures with the bearer TOKEN, RATE times a
second on a fixed schedule (one client on one kept-alive connection; a late answer delays
the next request, it does not bring on a burst), until the process is stopped. Every
answer is one line of OUT_FILE, written as it comes: `ok` for a 201, `err <what>` for
anything else. The service's certificate is not checked (loopback, self-signed).
"""

import http.client
import ssl
import sys
import time
import urllib.parse


def main():
    rate, token, body_file, url, out_file = sys.argv[1:6]
    interval = 1.0 / float(rate)
    with open(body_file, "rb") as f:
        body = f.read()
    target = urllib.parse.urlsplit(url)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    headers = {"content-type": "application/json", "authorization": "Bearer " + token}
    out = open(out_file, "a", buffering=1)
    connection = None
    due = time.monotonic()
    while True:
        due += interval
        try:
            if connection is None:
                connection = http.client.HTTPSConnection(target.hostname, target.port, context=context, timeout=15)
            connection.request("POST", "/api/v1/pictures", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            out.write("ok\n" if response.status == 201 else "err status-%d\n" % response.status)
        except (OSError, http.client.HTTPException) as e:
            out.write("err %s\n" % type(e).__name__)
            connection = None
        time.sleep(max(0.0, due - time.monotonic()))
        due = max(due, time.monotonic() - interval)


if __name__ == "__main__":
    main()
