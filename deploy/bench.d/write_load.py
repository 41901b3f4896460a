"""Write load for the drills: creates pictures over HTTPS until a stop file appears.

    python3 write_load.py TOKEN BODY_FILE OUT_FILE STOP_FILE THREADS URL...

THREADS clients per URL each POST the body in BODY_FILE to URL/api/v1/pictures with the
bearer TOKEN, one after the other. Every answer is one line of OUT_FILE, written and
flushed as it comes:

    ok <unix time> <url> <picture id>      the service answered 201 with this id
    err <unix time> <url> <what>           any other answer, a timeout or a refused connection

The service's certificate is not checked (the drills run on loopback with the self-signed
one).
"""

import json
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request


def main():
    token, body_file, out_file, stop_file, threads = sys.argv[1:6]
    urls = sys.argv[6:]
    with open(body_file, "rb") as f:
        body = f.read()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    lock = threading.Lock()
    out = open(out_file, "a", buffering=1)

    def record(line):
        with lock:
            out.write(line + "\n")
            out.flush()

    def client(url):
        while not os.path.exists(stop_file):
            request = urllib.request.Request(
                url + "/api/v1/pictures",
                data=body,
                method="POST",
                headers={"content-type": "application/json", "authorization": "Bearer " + token},
            )
            try:
                with urllib.request.urlopen(request, context=context, timeout=15) as response:
                    answer = json.load(response)
                    if response.status == 201:
                        record("ok %.3f %s %s" % (time.time(), url, answer["id"]))
                    else:
                        record("err %.3f %s status-%d" % (time.time(), url, response.status))
            except urllib.error.HTTPError as e:
                record("err %.3f %s status-%d" % (time.time(), url, e.code))
                time.sleep(0.05)
            except Exception as e:  # refused, reset, timeout: the failover itself
                record("err %.3f %s %s" % (time.time(), url, type(e).__name__))
                time.sleep(0.05)

    workers = [threading.Thread(target=client, args=(u,)) for u in urls for _ in range(int(threads))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.close()


if __name__ == "__main__":
    main()
