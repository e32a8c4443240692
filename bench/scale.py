#!/usr/bin/python3
"""The scale scenario: `ballast serve` ticking N targets against a real Redis.

    bench/scale.sh [--targets 10000] [--poll 1] [--duration 120]
                   [--ballast build-release/ballast] [--baseline OLD_BINARY]

Starts a redis-server on a free loopback port and fills one Celery queue per
target (kombu's layout: the queue's band-0 list, a few tasks each, pipelined);
writes a config of N targets (one Celery input on its own queue, static
currentReplicas, the external metrics API over TLS with a front-proxy client
CA, telemetry and gRPC on); starts `ballast serve`, waits for its first tick
and, after the settle time, measures:

- RSS (VmRSS) and its peak (VmHWM) from /proc/PID/status;
- CPU per tick: the process' utime + stime over a window of K ticks with no
  scrape inside it, divided by the ticks in it;
- one /metrics scrape: bytes, series (sample lines) and wall time;
- the Redis tick: the mean of ballast_source_poll_duration_seconds{kind=redis}
  over the same window, beside redis-benchmark sending the same number of
  LLEN commands (4 priority bands per queue) in one pipeline on one
  connection to the same server.

With --baseline, the same scenario runs first with the baseline binary, then
with --ballast, on the same Redis; the table has a column for each.

Other scripts reuse Scenario (bench/hpa_load.py) to keep a daemon running
while they load it.
"""

import argparse
import contextlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

PRIORITY_BANDS = 4  # kombu's default steps [0, 3, 6, 9]: one LLEN each


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def queue_name(i):
    # Zero-padded to 12 digits: redis-benchmark's __rand_int__ writes the
    # same form, so its LLENs read these very keys.
    return f"q-{i:012d}"


def target_name(i):
    return f"w-{i:06d}"


def make_certs(work):
    """A serving CA and certificate, a front-proxy CA and its client
    certificate (CN front-proxy-client), as bench/external_metrics_bench.sh
    makes them. Returns a dict of paths."""

    def ossl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    p = {k: os.path.join(work, k) for k in (
        "ca.crt", "ca.key", "proxy-ca.crt", "proxy-ca.key", "server.crt",
        "server.key", "client.crt", "client.key")}
    ossl("req", "-x509", *curve, "-keyout", p["ca.key"], "-out", p["ca.crt"],
         "-days", "2", "-subj", "/CN=serving-ca")
    ossl("req", "-x509", *curve, "-keyout", p["proxy-ca.key"], "-out",
         p["proxy-ca.crt"], "-days", "2", "-subj", "/CN=front-proxy-ca")
    for name, cn, ext in (
            ("server", "ballast",
             "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"),
            ("client", "front-proxy-client", "extendedKeyUsage=clientAuth\n")):
        csr = os.path.join(work, f"{name}.csr")
        extfile = os.path.join(work, f"{name}.ext")
        with open(extfile, "w") as f:
            f.write(ext)
        ossl("req", "-new", *curve, "-keyout", p[f"{name}.key"], "-out", csr,
             "-subj", f"/CN={cn}")
        ca = "ca" if name == "server" else "proxy-ca"
        ossl("x509", "-req", "-in", csr, "-CA", p[f"{ca}.crt"], "-CAkey",
             p[f"{ca}.key"], "-CAcreateserial", "-out", p[f"{name}.crt"],
             "-days", "2", "-extfile", extfile)
    return p


class Redis:
    def __init__(self, work):
        self.port = free_port()
        self.dir = os.path.join(work, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, proc=self.proc)

    def fill(self, n, tasks):
        """One queue per target, `tasks` Celery-shaped messages each, sent
        as one pipelined stream of LPUSHes."""
        body = ('{"body": "W1tdLCB7fSwgeyJjYWxsYmFja3MiOiBudWxsfV0=", '
                '"content-encoding": "utf-8", "content-type": "application/json", '
                '"headers": {"lang": "py", "task": "bench.work", "id": "%s"}, '
                '"properties": {"delivery_info": {"exchange": "", '
                '"routing_key": "%s"}, "priority": 0}}')
        out = bytearray()
        for i in range(n):
            q = queue_name(i).encode()
            args = [b"LPUSH", q] + [
                (body % (f"{i}-{t}", q.decode())).encode() for t in range(tasks)]
            out += b"*%d\r\n" % len(args)
            for a in args:
                out += b"$%d\r\n%s\r\n" % (len(a), a)
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(bytes(out))
            s.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                got += chunk
        replies = got.count(b"\r\n")
        if replies != n or b"-" in got[:1]:
            raise RuntimeError(f"Redis fill: {replies} replies for {n} queues")

    def benchmark_llen(self, commands, rounds=5):
        """Seconds per pipeline of `commands` LLENs (redis-benchmark, one
        connection, the whole tick's commands in one pipeline)."""
        n = commands * rounds
        out = subprocess.run(
            ["redis-benchmark", "-h", "127.0.0.1", "-p", str(self.port), "-c", "1",
             "-n", str(n), "-P", str(commands), "-r", str(commands // PRIORITY_BANDS),
             "--csv", "LLEN", "q-__rand_int__"],
            check=True, capture_output=True, text=True).stdout
        # "LLEN q-__rand_int__","123456.79",...
        rows = [line.split(",") for line in out.splitlines() if line.startswith('"LLEN')]
        rps = float(rows[-1][1].strip('"'))
        return commands / rps

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def write_config(path, n, redis_port, certs, poll, ports, max_connections=None,
                 request_timeout_ms=None):
    lines = [
        "sources:",
        "  redis:",
        f"    main: {{address: \"127.0.0.1:{redis_port}\", timeoutMs: 5000}}",
        "server:",
        f"  pollIntervalSeconds: {poll}",
        "  externalMetrics:",
        f"    listen: \"127.0.0.1:{ports['https']}\"",
        f"    tlsCertFile: {certs['server.crt']}",
        f"    tlsKeyFile: {certs['server.key']}",
        f"    requestheaderClientCAFile: {certs['proxy-ca.crt']}",
        "    requestheaderAllowedNames: [front-proxy-client]",
        "    authentication: {mode: Files}",
        "    authorization: {mode: AlwaysAllow}",
    ] + ([f"    maxConnections: {max_connections}"] if max_connections else []) + (
        [f"    requestTimeoutMs: {request_timeout_ms}"] if request_timeout_ms else []) + [
        "  grpc:",
        f"    listen: \"127.0.0.1:{ports['grpc']}\"",
        "  telemetry:",
        f"    listen: \"127.0.0.1:{ports['telemetry']}\"",
        "targets:",
    ]
    for i in range(n):
        lines += [
            f"  - name: {target_name(i)}",
            "    maxReplicas: 100",
            "    currentReplicas: {static: 2}",
            "    inputs:",
            f"      - {{name: backlog, averageValue: 1, celery: {{source: main, "
            f"queues: [{queue_name(i)}]}}}}",
        ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def proc_status(pid):
    """VmRSS and VmHWM in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime, stime are fields 14, 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def scrape(port):
    started = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as r:
        body = r.read()
    took = time.monotonic() - started
    samples = {}
    series = 0
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        series += 1
        m = SAMPLE.match(line)
        if m:
            samples.setdefault(m.group(1), []).append((m.group(2) or "", float(m.group(3))))
    return {"bytes": len(body), "series": series, "seconds": took, "samples": samples}


def metric_sum(samples, name, contains=""):
    return sum(v for labels, v in samples.get(name, []) if contains in labels)


class Scenario:
    """redis-server + a config of `n` targets + `ballast serve` from `binary`.

    Reused by bench/hpa_load.py. Attributes once started: proc, ports,
    certs, redis, work."""

    def __init__(self, binary, n=10000, poll=1, tasks=3, io_threads=None,
                 work=None, redis=None, certs=None, extra_args=(), max_connections=None,
                 request_timeout_ms=None):
        self.binary = binary
        self.n = n
        self.poll = poll
        self.tasks = tasks
        self.io_threads = io_threads
        self.extra_args = list(extra_args)
        self.max_connections = max_connections
        self.request_timeout_ms = request_timeout_ms
        self.own_work = work is None
        self.work = work or tempfile.mkdtemp(prefix="ballast-scale-")
        self.redis = redis
        self.own_redis = redis is None
        self.certs = certs
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if self.certs is None:
            self.certs = make_certs(self.work)
        if self.redis is None:
            self.redis = Redis(self.work)
            started = time.monotonic()
            self.redis.fill(self.n, self.tasks)
            log(f"filled {self.n} queues x {self.tasks} tasks in "
                f"{time.monotonic() - started:.1f}s")
        self.ports = {"https": free_port(), "grpc": free_port(), "telemetry": free_port()}
        self.config = os.path.join(self.work, "ballast.yaml")
        write_config(self.config, self.n, self.redis.port, self.certs, self.poll, self.ports,
                     self.max_connections, self.request_timeout_ms)
        args = [self.binary, "serve", "--config", self.config, "--log-format", "logfmt",
                *self.extra_args]
        if self.io_threads:
            args += ["--io-threads", str(self.io_threads)]
        self.log_path = os.path.join(self.work, f"ballast-{os.getpid()}-{time.time():.0f}.log")
        self.log_file = open(self.log_path, "w")
        started = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=self.log_file, stderr=subprocess.STDOUT)
        wait_port(self.ports["telemetry"], timeout=120, proc=self.proc)
        self.wait_first_tick(timeout=120)
        self.started_in = time.monotonic() - started
        log(f"{os.path.basename(self.binary)}: serving {self.n} targets, first tick "
            f"{self.started_in:.1f}s after start (pid {self.proc.pid})")

    def wait_first_tick(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ballast exited with {self.proc.returncode}; "
                                   f"log: {self.log_path}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{self.ports['telemetry']}/readyz", timeout=5) as r:
                    if r.status == 200:
                        return
            time.sleep(0.2)
        raise RuntimeError(f"no first tick within {timeout}s; log: {self.log_path}")

    def https_context(self):
        ctx = ssl.create_default_context(cafile=self.certs["ca.crt"])
        ctx.load_cert_chain(self.certs["client.crt"], self.certs["client.key"])
        return ctx

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log_file.close()
        if self.own_redis and self.redis:
            self.redis.stop()
        if self.own_work:
            shutil.rmtree(self.work, ignore_errors=True)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def measure(s, duration, window_ticks):
    """Settles for `duration` seconds, then measures (see the module doc)."""
    time.sleep(duration)
    pid = s.proc.pid
    tel = s.ports["telemetry"]
    a = scrape(tel)
    cpu0, t0 = proc_cpu_seconds(pid), time.monotonic()
    time.sleep(window_ticks * s.poll)
    cpu1, t1 = proc_cpu_seconds(pid), time.monotonic()
    b = scrape(tel)
    status = proc_status(pid)

    def delta(name, contains=""):
        return metric_sum(b["samples"], name, contains) - metric_sum(a["samples"], name, contains)

    ticks = delta("ballast_ticks_total", 'result="ran"')
    polls = delta("ballast_source_poll_duration_seconds_count", 'kind="redis"')
    poll_seconds = delta("ballast_source_poll_duration_seconds_sum", 'kind="redis"')
    skipped = delta("ballast_ticks_total", 'result="skipped"')
    commands = PRIORITY_BANDS * s.n
    bench = s.redis.benchmark_llen(commands)
    # A request of the external metrics API for one target, as the HPA asks.
    path = ("/apis/external.metrics.k8s.io/v1beta1/namespaces/default/"
            f"ballast_recommended_replicas?labelSelector=target%3D{target_name(s.n // 2)}")
    req = urllib.request.Request(f"https://127.0.0.1:{s.ports['https']}{path}",
                                 headers={"X-Remote-User": "bench", "X-Remote-Group": "bench"})
    started = time.monotonic()
    with urllib.request.urlopen(req, context=s.https_context(), timeout=30) as r:
        r.read()
    one_request = time.monotonic() - started
    return {
        "rss_mib": status["VmRSS"] / 1024,
        "hwm_mib": status["VmHWM"] / 1024,
        "ticks": ticks,
        "skipped": skipped,
        "cpu_per_tick_ms": 1000 * (cpu1 - cpu0) / ticks if ticks else float("nan"),
        "cpu_share": (cpu1 - cpu0) / (t1 - t0),
        "metrics_mb": b["bytes"] / 1e6,
        "series": b["series"],
        "scrape_s": b["seconds"],
        "redis_tick_ms": 1000 * poll_seconds / polls if polls else float("nan"),
        "redis_bench_ms": 1000 * bench,
        "commands": commands,
        "first_tick_s": s.started_in,
        "one_request_ms": 1000 * one_request,
    }


ROWS = [
    ("first tick after start", "first_tick_s", "{:.1f} s"),
    ("RSS (VmRSS)", "rss_mib", "{:.0f} MiB"),
    ("peak RSS (VmHWM)", "hwm_mib", "{:.0f} MiB"),
    ("ticks in the window (skipped)", None, None),
    ("CPU per tick", "cpu_per_tick_ms", "{:.1f} ms"),
    ("CPU per tick per target", None, None),
    ("CPU share (1.0 = one core)", "cpu_share", "{:.2f}"),
    ("/metrics bytes", "metrics_mb", "{:.2f} MB"),
    ("/metrics series", "series", "{:,}"),
    ("/metrics scrape", "scrape_s", "{:.3f} s"),
    ("Redis tick (ballast, mean)", "redis_tick_ms", "{:.1f} ms"),
    ("redis-benchmark, same LLENs pipelined", "redis_bench_ms", "{:.1f} ms"),
    ("Redis tick / redis-benchmark", None, None),
    ("one HPA request (new TLS connection)", "one_request_ms", "{:.1f} ms"),
]


def print_table(n, poll, results):
    names = list(results)
    width = max(len(r[0]) for r in ROWS)
    print(f"\n{n:,} targets, poll {poll} s, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'':<{width}}  " + "  ".join(f"{name:>18}" for name in names))
    for label, key, fmt in ROWS:
        cells = []
        for name in names:
            r = results[name]
            if label.startswith("ticks in"):
                cell = f"{r['ticks']:.0f} ({r['skipped']:.0f})"
            elif label.startswith("CPU per tick per"):
                cell = f"{1000 * r['cpu_per_tick_ms'] / n:.2f} µs"
            elif label.startswith("Redis tick /"):
                cell = f"{r['redis_tick_ms'] / r['redis_bench_ms']:.2f}×"
            else:
                cell = fmt.format(r[key])
            cells.append(f"{cell:>18}")
        print(f"{label:<{width}}  " + "  ".join(cells))
    print(f"(Redis: {results[names[0]]['commands']:,} LLEN per tick)")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ballast", default=os.path.join(REPO, "build-release", "ballast"))
    p.add_argument("--baseline", help="a second ballast binary, run first on the same Redis")
    p.add_argument("--targets", type=int, default=10000)
    p.add_argument("--poll", type=int, default=1, help="pollIntervalSeconds (default 1)")
    p.add_argument("--duration", type=float, default=120,
                   help="settle seconds after the first tick (default 120)")
    p.add_argument("--window-ticks", type=int, default=20,
                   help="ticks in the CPU window (default 20)")
    p.add_argument("--tasks", type=int, default=3, help="tasks per queue (default 3)")
    p.add_argument("--io-threads", type=int)
    a = p.parse_args()
    for b in [a.ballast] + ([a.baseline] if a.baseline else []):
        if not os.access(b, os.X_OK):
            sys.exit(f"no ballast binary at {b} (build it: source scripts/lib.sh && "
                     "ballast_build build-release -DCMAKE_BUILD_TYPE=Release)")
    for tool in ("redis-server", "redis-benchmark", "openssl"):
        if shutil.which(tool) is None:
            sys.exit(f"missing {tool}: apt-get install -y redis-server openssl")
    work = tempfile.mkdtemp(prefix="ballast-scale-")
    try:
        certs = make_certs(work)
        redis = Redis(work)
        try:
            started = time.monotonic()
            redis.fill(a.targets, a.tasks)
            log(f"filled {a.targets} queues x {a.tasks} tasks in "
                f"{time.monotonic() - started:.1f}s")
            results = {}
            runs = ([("baseline", a.baseline)] if a.baseline else []) + [("ballast", a.ballast)]
            for name, binary in runs:
                with Scenario(binary, a.targets, a.poll, a.tasks, a.io_threads,
                              work=work, redis=redis, certs=certs) as s:
                    results[name] = measure(s, a.duration, a.window_ticks)
            print_table(a.targets, a.poll, results)
        finally:
            redis.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
