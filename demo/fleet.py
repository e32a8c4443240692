"""The demo's "Deployment": keeps as many Celery workers running as ballast
recommends for a target, and exports what it runs for Prometheus.

Every second it reads ballast_recommended_replicas{target=...} from ballast's
/metrics (with --cluster INFO.json instead: spec.replicas of the target's
Deployment in the demo's Kubernetes API server, which the real HPA sets from
ballast's recommendation; see demo/cluster.py) and starts workers (`celery
worker -Q asr --concurrency 1 ...`, one process group with this script) or
stops the newest ones with SIGTERM (Celery's warm shutdown: a worker finishes
its job, then exits). On SIGTERM/SIGINT it stops all its workers and exits.

Exported on --port (scraped by Prometheus, read back by ballast):
  fleet_workers           workers started and not told to stop
  fleet_ready_workers     of those, the ones consuming (ballast's currentReplicas)
  fleet_stopping_workers  told to stop, finishing their job
  asr_oldest_wait_seconds age of the oldest job still queued (0 when empty)

  python3 fleet.py --ballast http://127.0.0.1:P/metrics --port P2 \
      --broker redis://127.0.0.1:P3/0 --ready-dir DIR --log-dir DIR
  python3 fleet.py --cluster INFO.json ...   (scripts/demo --cluster)
"""
import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import time

import redis
from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, GaugeMetricFamily

import ballast_metrics
import kube


class Fleet:
    def __init__(self, a):
        self.a = a
        self.running = {}   # index -> Popen, workers meant to run
        self.stopping = {}  # index -> Popen, workers finishing after SIGTERM
        self.redis = redis.Redis.from_url(a.broker)

    def _name(self, i):
        return f"w{i}@demo"

    def start_one(self):
        used = self.running.keys() | self.stopping.keys()
        i = next(i for i in range(1, 10_000) if i not in used)
        with open(os.path.join(self.a.log_dir, f"worker-w{i}.log"), "ab") as log:
            self.running[i] = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "asr_app", "worker", "-Q", "asr",
                 "--concurrency", "1", "--prefetch-multiplier", "1", "--without-heartbeat",
                 "--without-gossip", "--without-mingle", "-n", self._name(i),
                 "--loglevel", "WARNING"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def stop_one(self):
        i = max(self.running)
        p = self.running.pop(i)
        p.send_signal(signal.SIGTERM)  # warm shutdown
        self.stopping[i] = p
        self._unready(i)

    def _unready(self, i):
        try:
            os.remove(os.path.join(self.a.ready_dir, self._name(i)))
        except OSError:
            pass

    def reap(self):
        for group in (self.running, self.stopping):
            for i, p in list(group.items()):
                if p.poll() is not None:
                    del group[i]
                    self._unready(i)

    def ready(self):
        return sum(os.path.exists(os.path.join(self.a.ready_dir, self._name(i)))
                   for i in self.running)

    def scale_to(self, want):
        want = max(0, min(want, self.a.max_workers))
        while len(self.running) < want:
            self.start_one()
        while len(self.running) > want:
            self.stop_one()

    def shutdown(self, grace=15):
        for i in list(self.running):
            self.stop_one()
        deadline = time.monotonic() + grace
        while self.stopping and time.monotonic() < deadline:
            time.sleep(0.1)
            self.reap()
        for p in self.stopping.values():
            p.kill()
            p.wait()

    def oldest_wait(self):
        """Age of the oldest job not started: the queue's last message (kombu
        LPUSHes and BRPOPs) or a job a worker reserved (the `unacked` hash).
        A message's body holds [args, kwargs, embed]; args[1] is when it was
        sent."""
        last = self.redis.lindex("asr", -1)
        messages = [json.loads(last)] if last else []
        # unacked: delivery tag -> [message, exchange, routing key]
        messages += [json.loads(v)[0] for v in self.redis.hvals("unacked")]
        sent = [json.loads(base64.b64decode(m["body"]))[0][1] for m in messages]
        return max(0.0, time.time() - min(sent)) if sent else 0.0

    def collect(self):  # called by prometheus_client at each scrape
        for name, doc, value in [
                ("fleet_workers", "Workers started and not told to stop.", len(self.running)),
                ("fleet_ready_workers", "Workers consuming the queue.", self.ready()),
                ("fleet_stopping_workers", "Workers finishing their job after SIGTERM.",
                 len(self.stopping)),
                ("asr_oldest_wait_seconds", "Age of the oldest queued job.", self._safe_wait())]:
            yield GaugeMetricFamily(name, doc, value=value)

    def _safe_wait(self):
        try:
            return self.oldest_wait()
        except (redis.RedisError, ValueError, KeyError, IndexError):
            return float("nan")


def follower(a):
    """A function returning the worker count to run, or None when unknown:
    the target's Deployment's spec.replicas with --cluster, else ballast's
    recommendation."""
    if a.cluster:
        cluster = kube.Kube.load(a.cluster)
        return lambda: cluster.spec_replicas(a.target)
    return lambda: ballast_metrics.recommended(a.ballast, a.target)


def main():
    p = argparse.ArgumentParser()
    follow = p.add_mutually_exclusive_group(required=True)
    follow.add_argument("--ballast", help="ballast's /metrics URL: follow its recommendation")
    follow.add_argument("--cluster", help="demo/cluster.py's INFO.json: follow the Deployment")
    p.add_argument("--target", default="asr-worker")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--broker", required=True)
    p.add_argument("--ready-dir", required=True)
    p.add_argument("--log-dir", required=True)
    p.add_argument("--initial", type=int, default=2,
                   help="workers before ballast (or the API server) answers")
    p.add_argument("--max-workers", type=int, default=40, help="safety cap")
    a = p.parse_args()
    os.environ["DEMO_READY_DIR"] = a.ready_dir  # for the workers
    os.environ["DEMO_BROKER_URL"] = a.broker

    fleet = Fleet(a)
    wanted = follower(a)
    stop = []
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.append(True))
    REGISTRY.register(fleet)
    start_http_server(a.port, addr="127.0.0.1")
    fleet.scale_to(a.initial)
    while not stop:
        fleet.reap()
        want = wanted()
        if want is not None:
            fleet.scale_to(want)
        elif len(fleet.running) < a.initial:
            fleet.scale_to(a.initial)  # a worker died before ballast answered
        time.sleep(1)
    fleet.shutdown()


if __name__ == "__main__":
    sys.exit(main())
