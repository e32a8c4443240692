#!/usr/bin/python3
"""Memory per idle connection: ballast's external metrics API beside nginx.

    bench/idle_connections.py [--ballast BIN] [--baseline OLD_BIN] [-n 2000]

For each server (the scale scenario at 10 targets, so that the daemon's own
memory stays still; nginx with the hpa_load template: the same serving
certificate, `ssl_verify_client on` with the same front-proxy CA, 2 workers)
it opens N connections from this process and reads the servers' RSS (VmRSS
of ballast; the sum over nginx's master and workers) before and 2 s after
each step:

1. N TCP connections that send nothing (before any TLS handshake);
2. N more that complete a TLS handshake with the front-proxy client
   certificate and send nothing;
3. one request on each of those, answered, the connection left open idle
   (keep-alive).

Per connection = RSS delta / N, in KiB. Timeouts are set long enough that
no connection is closed meanwhile (ballast requestTimeoutMs and nginx's
client_header_timeout/keepalive_timeout: 10 minutes).
"""

import argparse
import os
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hpa_load  # noqa: E402
import scale  # noqa: E402


def rss_kib(pids):
    return sum(scale.proc_status(p)["VmRSS"] for p in pids)


def measure(name, port, pids, certs, n, request_path):
    rows = {}
    ctx = ssl.create_default_context(cafile=certs["ca.crt"])
    ctx.load_cert_chain(certs["client.crt"], certs["client.key"])

    def settle():
        time.sleep(2)
        return rss_kib(pids)

    base = settle()
    plain = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
    after_tcp = settle()
    rows["TCP, before the TLS handshake"] = (after_tcp - base) / n
    tls = []
    for _ in range(n):
        tls.append(ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                   server_hostname="localhost"))
    after_tls = settle()
    rows["after the TLS handshake"] = (after_tls - after_tcp) / n
    request = (f"GET {request_path} HTTP/1.1\r\nHost: localhost\r\n"
               "X-Remote-User: front-proxied-user\r\n\r\n").encode()
    for s in tls:
        s.sendall(request)
    for s in tls:
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(65536)
        head, _, body = got.partition(b"\r\n\r\n")
        length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")][0])
        while len(body) < length:
            body += s.recv(65536)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"{name}: {head[:80]!r}")
    after_request = settle()
    rows["idle keep-alive, after one request"] = (after_request - after_tcp) / n
    for s in plain + tls:
        s.close()
    scale.log(f"{name}: RSS {base} -> {after_tcp} -> {after_tls} -> {after_request} KiB")
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ballast", default=os.path.join(scale.REPO, "build-release", "ballast"))
    p.add_argument("--baseline")
    p.add_argument("-n", type=int, default=2000, help="connections per step (default 2000)")
    a = p.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 2 * a.n + 100:
        sys.exit(f"the open-file hard limit {hard} is below 2n")
    work = tempfile.mkdtemp(prefix="ballast-idle-")
    results = {}
    try:
        certs = scale.make_certs(work)
        redis = scale.Redis(work)
        try:
            redis.fill(10, 3)
            path = hpa_load.metric_path(scale.target_name(0))
            runs = ([("baseline", a.baseline)] if a.baseline else []) + [("ballast", a.ballast)]
            body = None
            for label, binary in runs:
                with scale.Scenario(binary, 10, 1, work=work, redis=redis, certs=certs,
                                    max_connections=4 * a.n,
                                    request_timeout_ms=600000) as s:
                    results[label] = measure(label, s.ports["https"], [s.proc.pid], certs,
                                             a.n, path)
                    if body is None:

                        req = urllib.request.Request(
                            f"https://127.0.0.1:{s.ports['https']}{path}",
                            headers={"X-Remote-User": "u"})
                        with urllib.request.urlopen(req, context=s.https_context()) as r:
                            body = r.read()
            nginx = hpa_load.Nginx(work, certs, body, 2, long_timeouts=True)
            try:
                results["nginx"] = measure("nginx", nginx.port, nginx.pids(), certs, a.n, path)
            finally:
                nginx.stop()
        finally:
            redis.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    names = list(results)
    rows = list(results[names[0]])
    width = max(len(r) for r in rows)
    print(f"\nKiB of server RSS per connection, {a.n} connections per step; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'':<{width}}  " + "  ".join(f"{n:>10}" for n in names))
    for r in rows:
        print(f"{r:<{width}}  " + "  ".join(f"{results[n][r]:>10.1f}" for n in names))


if __name__ == "__main__":
    main()
