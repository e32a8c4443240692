#!/usr/bin/python3
"""The HPA path under load: vegeta against `ballast serve` ticking N targets,
beside nginx serving the same bytes; and KEDA's GetMetrics (grpcload).

    bench/hpa_load.sh [--ballast BIN] [--baseline OLD_BIN] [--targets 10000]
                      [--rates 1000,5000] [--duration 60] [--max-seconds 15]

One run, for each binary (the baseline first):
1. the scale scenario (bench/scale.py): a real Redis with one Celery queue
   per target, `ballast serve` ticking every --poll seconds, external
   metrics over TLS (authentication mode Files: the front-proxy CA and
   allowed name front-proxy-client; authorization AlwaysAllow, so no
   kube-apiserver is needed: see bench/README.md), maxConnections 20000
   (nginx's worker_connections);
2. nginx (worker_processes = ballast's --io-threads, 2) serving ballast's
   answer for one target as a static file with the same serving
   certificate and `ssl_verify_client on` against the same CA;
3. vegeta, open loop, with the front-proxy client certificate and
   X-Remote-User/X-Remote-Group, each target of the scenario in turn, at
   each rate for --duration seconds, nginx then ballast: answered %,
   p50/p99/p99.9/max of every request (failures included);
4. the maximum throughput: vegeta closed loop (-rate=0, -max-workers 64) for
   --max-seconds;
   (before each run, until the servers are idle: at most 60 s)
5. grpcload (tools/bench/grpcload) against KEDA's GetMetrics, a random
   target per call, at the same rates, then closed loop with 32 callers.

vegeta (github.com/tsenart/vegeta/v12, tools/bench/go.mod) and grpcload are
built with Go into ~/.cache/ballast/bench-tools-<hash>/bin.
"""

import argparse
import csv
import fcntl
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale  # noqa: E402

HERE = scale.HERE
REPO = scale.REPO
GO = os.environ.get("BALLAST_GO", "/usr/local/go/bin/go")


def build_tools():
    """Builds vegeta and grpcload from tools/bench (once per source hash)."""
    src = os.path.join(REPO, "tools", "bench")
    h = hashlib.sha256()
    for f in ("go.mod", "go.sum", "grpcload/main.go"):
        with open(os.path.join(src, f), "rb") as fh:
            h.update(fh.read())
    cache = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
    root = os.path.join(cache, "ballast", f"bench-tools-{h.hexdigest()[:16]}")
    bin_dir = os.path.join(root, "bin")
    tools = {"vegeta": os.path.join(bin_dir, "vegeta"),
             "grpcload": os.path.join(bin_dir, "grpcload")}
    if all(os.access(t, os.X_OK) for t in tools.values()):
        return tools
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all(os.access(t, os.X_OK) for t in tools.values()):
            scale.log(f"building vegeta and grpcload into {bin_dir}")
            tmp = tempfile.mkdtemp(dir=root, prefix="bin.tmp.")
            for out, pkg in (("vegeta", "github.com/tsenart/vegeta/v12"),
                             ("grpcload", "./grpcload")):
                subprocess.run([GO, "build", "-trimpath", "-buildvcs=false", "-o",
                                os.path.join(tmp, out), pkg], cwd=src, check=True)
            shutil.rmtree(bin_dir, ignore_errors=True)
            os.rename(tmp, bin_dir)
    return tools


class Nginx:
    def __init__(self, work, certs, body, workers, long_timeouts=False):
        self.work = os.path.join(work, "nginx")
        os.makedirs(os.path.join(self.work, "www"), exist_ok=True)
        os.makedirs(os.path.join(self.work, "tmp"), exist_ok=True)
        with open(os.path.join(self.work, "www", "metric.json"), "wb") as f:
            f.write(body)
        self.port = scale.free_port()
        with open(os.path.join(HERE, "nginx", "hpa_load.conf.template")) as f:
            conf = f.read()
        for k, v in {"@WORK@": self.work, "@PORT@": str(self.port),
                     "@CERT@": certs["server.crt"], "@KEY@": certs["server.key"],
                     "@CLIENT_CA@": certs["proxy-ca.crt"],
                     "@WORKERS@": str(workers),
                     "@KEEPALIVE@": "600s" if long_timeouts else "90s",
                     "@HEADER_TIMEOUT@": "600s" if long_timeouts else "60s"}.items():
            conf = conf.replace(k, v)
        path = os.path.join(self.work, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        os.chmod(work, 0o755)
        subprocess.run(["chmod", "-R", "a+rX", self.work], check=True)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen([nginx, "-p", self.work, "-e",
                                      os.path.join(self.work, "nginx-error.log"), "-c", path])
        scale.wait_port(self.port, proc=self.proc)

    def pids(self):
        """The master and its workers."""
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                             text=True).stdout.split()
        return [self.proc.pid] + [int(p) for p in out]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def metric_path(target):
    return ("/apis/external.metrics.k8s.io/v1beta1/namespaces/default/"
            f"ballast_recommended_replicas?labelSelector=target%3D{target}")


def write_targets(path, port, n):
    with open(path, "w") as f:
        for i in range(n):
            f.write(f"GET https://127.0.0.1:{port}{metric_path(scale.target_name(i))}\n"
                    "X-Remote-User: front-proxied-user\n"
                    "X-Remote-Group: system:masters\n\n")


def quantiles(latencies):
    latencies = sorted(latencies)

    def q(p):
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    return {"p50": q(0.5), "p99": q(0.99), "p999": q(0.999), "max": q(1.0)}


def vegeta(tools, work, certs, port, n, rate, seconds, name):
    """One vegeta attack; returns answered %, quantiles (s), throughput and
    the errors seen."""
    targets = os.path.join(work, f"targets-{port}")
    write_targets(targets, port, n)
    results = os.path.join(work, f"results-{name}.bin")
    args = [tools["vegeta"], "attack", "-format", "http", "-targets", targets,
            "-duration", f"{seconds}s", "-cert", certs["client.crt"],
            "-key", certs["client.key"], "-root-certs", certs["ca.crt"],
            "-timeout", "30s", "-output", results, "-http2=false"]
    if rate:
        args += ["-rate", f"{rate}/s"]
    else:
        args += ["-rate", "0", "-max-workers", "64", "-workers", "64"]
    subprocess.run(args, check=True, stderr=subprocess.DEVNULL)
    csv_out = subprocess.run([tools["vegeta"], "encode", "--to", "csv", results],
                             check=True, capture_output=True, text=True).stdout
    latencies, ok, total, errors = [], 0, 0, {}
    first, last = None, None
    for row in csv.reader(csv_out.splitlines()):
        ts, code, latency = int(row[0]), int(row[1]), int(row[2])
        total += 1
        latencies.append(latency / 1e9)
        first = ts if first is None else min(first, ts)
        last = ts + latency if last is None else max(last, ts + latency)
        if code == 200:
            ok += 1
        else:
            err = row[5] or f"HTTP {code}"
            err = err.split(": ")[-1][:60]
            errors[err] = errors.get(err, 0) + 1
    os.remove(results)
    span = (last - first) / 1e9 if total else 0
    return {"name": name, "rate": rate, "requests": total,
            "answered": 100.0 * ok / total if total else 0.0,
            "throughput": ok / span if span else 0.0, "errors": errors,
            **quantiles(latencies)}


def grpcload(tools, port, n, rate, seconds):
    out = subprocess.run([tools["grpcload"], "-addr", f"127.0.0.1:{port}", "-rate", str(rate),
                          "-duration", f"{seconds}s", "-targets", str(n), "-workers", "32"],
                         check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    return {"name": "ballast gRPC", "rate": rate, "requests": r["requests"],
            "answered": 100.0 * r["ok"] / r["requests"] if r["requests"] else 0.0,
            "throughput": r["throughput"],
            "errors": {k: v for k, v in r["codes"].items() if k != "OK"},
            "p50": r["p50_us"] / 1e6, "p99": r["p99_us"] / 1e6,
            "p999": r["p999_us"] / 1e6, "max": r["max_us"] / 1e6}


def fmt_s(s):
    if s != s:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def print_rows(title, rows):
    print(f"\n{title}")
    print(f"{'server':<18} {'rate':>8} {'requests':>9} {'answered':>9} {'req/s':>9} "
          f"{'p50':>9} {'p99':>9} {'p99.9':>9} {'max':>9}  errors")
    for r in rows:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items())[:3])
        rate = f"{r['rate']}/s" if r["rate"] else "closed"
        print(f"{r['name']:<18} {rate:>8} {r['requests']:>9} {r['answered']:>8.2f}% "
              f"{r['throughput']:>9.0f} {fmt_s(r['p50']):>9} {fmt_s(r['p99']):>9} "
              f"{fmt_s(r['p999']):>9} {fmt_s(r['max']):>9}  {errors}")
    sys.stdout.flush()


def wait_quiet(pids, limit=0.5, timeout=60):
    """Waits (up to `timeout` s) until `pids` use less than `limit` of a core
    over a second: a server still working off the last run's backlog would
    slow the next one down."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = sum(scale.proc_cpu_seconds(p) for p in pids)
        time.sleep(1)
        if sum(scale.proc_cpu_seconds(p) for p in pids) - before < limit:
            return


def run_binary(label, binary, a, tools, work, certs, redis):
    rows = []
    io_threads = a.io_threads or 2
    with scale.Scenario(binary, a.targets, a.poll, work=work, redis=redis, certs=certs,
                        io_threads=a.io_threads, max_connections=20000) as s:
        port = s.ports["https"]
        req = urllib.request.Request(
            f"https://127.0.0.1:{port}{metric_path(scale.target_name(0))}",
            headers={"X-Remote-User": "front-proxied-user"})
        with urllib.request.urlopen(req, context=s.https_context(), timeout=30) as r:
            body = r.read()
        nginx = Nginx(work, certs, body, io_threads)
        try:
            pids = [s.proc.pid] + nginx.pids()
            for rate in a.rates:
                for server, p in (("nginx", nginx.port), (label, port)):
                    wait_quiet(pids)
                    rows.append(vegeta(tools, work, certs, p, a.targets, rate, a.duration,
                                       server))
                print_rows(f"(so far, {label})", rows[-2:])
            for server, p in (("nginx", nginx.port), (label, port)):
                wait_quiet(pids)
                rows.append(vegeta(tools, work, certs, p, a.targets, 0, a.max_seconds, server))
        finally:
            nginx.stop()
        for rate in a.rates + [0]:
            wait_quiet([s.proc.pid])
            rows.append(grpcload(tools, s.ports["grpc"], a.targets, rate,
                                 a.duration if rate else a.max_seconds))
            rows[-1]["name"] = f"{label} GetMetrics"
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ballast", default=os.path.join(REPO, "build-release", "ballast"))
    p.add_argument("--baseline", help="a second ballast binary, run first")
    p.add_argument("--targets", type=int, default=10000)
    p.add_argument("--poll", type=int, default=1)
    p.add_argument("--rates", default="1000,5000",
                   help="open-loop rates, comma-separated (default 1000,5000)")
    p.add_argument("--duration", type=int, default=60, help="seconds per open-loop run")
    p.add_argument("--max-seconds", type=int, default=15, help="seconds of the closed loop")
    p.add_argument("--io-threads", type=int)
    a = p.parse_args()
    a.rates = [int(r) for r in a.rates.split(",") if r]
    for tool in ("redis-server", "redis-benchmark", "openssl"):
        if shutil.which(tool) is None:
            sys.exit(f"missing {tool}: apt-get install -y redis-server openssl")
    if not (shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK)):
        sys.exit("missing nginx: apt-get install -y nginx")
    # vegeta opens a connection per request in flight: give it (and nginx)
    # every descriptor the hard limit allows.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tools = build_tools()
    work = tempfile.mkdtemp(prefix="ballast-hpa-load-")
    try:
        certs = scale.make_certs(work)
        redis = scale.Redis(work)
        try:
            redis.fill(a.targets, 3)
            runs = ([("baseline", a.baseline)] if a.baseline else []) + [("ballast", a.ballast)]
            rows = []
            for label, binary in runs:
                rows += run_binary(label, binary, a, tools, work, certs, redis)
            print_rows(f"{a.targets:,} targets ticking every {a.poll} s; open loop "
                       f"{a.duration} s per rate, closed loop {a.max_seconds} s; load average "
                       f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", rows)
        finally:
            redis.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
