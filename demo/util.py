"""Small helpers for scripts/demo (standard library only).

  util.py ports N            prints N distinct free TCP ports on 127.0.0.1
  util.py wait URL [SECONDS] waits until URL answers 200 (default 60 s);
                             exit 1 if it does not
  util.py wait-series PROMETHEUS_URL QUERY [SECONDS]
                             the same, until QUERY returns some series
"""
import json
import socket
import sys
import time
import urllib.parse
import urllib.request


def free_ports(n):
    # Bind them all at once so that they differ; the kernel picks free ones.
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait(url, seconds, ok=lambda body: True):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200 and ok(r.read()):
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def wait_series(prometheus, query, seconds):
    url = prometheus + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    return wait(url, seconds, lambda body: json.loads(body)["data"]["result"])


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "ports":
        print(*free_ports(int(sys.argv[2])))
    elif len(sys.argv) >= 3 and sys.argv[1] == "wait":
        sys.exit(0 if wait(sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 60) else 1)
    elif len(sys.argv) >= 4 and sys.argv[1] == "wait-series":
        seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 60
        sys.exit(0 if wait_series(sys.argv[2], sys.argv[3], seconds) else 1)
    else:
        sys.exit(__doc__)
