"""A stand-in TTS API for the demo: replays the worldcup98 request rate as
Prometheus metrics, with a latency that grows with the load per replica.

--speed 60 plays one trace minute per second (from when ballast first
answers; until then it serves the first minute); the request rate keeps its
recorded value (requests/s), only time runs faster. The replica count is
ballast's recommendation for tts-api (read every second from ballast's
/metrics, as if a Deployment followed it at once), or with --cluster INFO.json
the spec.replicas of the tts-api Deployment, which the real HPA sets
(scripts/demo --cluster; see demo/cluster.py). Each replica serves
--capacity requests/s; at utilization u = rps / (replicas * capacity) a
request takes an exponential time of mean base / (1 - u) (the M/M/1
response time), capped at --cap seconds. The histogram is built from that
distribution (no requests are actually served).

Exported on --port:
  tts_requests_total                 counter
  tts_request_duration_seconds       histogram
  tts_ready_replicas                 the replicas serving (ballast's currentReplicas)
  tts_trace_timestamp_seconds        the trace's clock (unix time, 1998)
"""
import argparse
import bisect
import csv
import datetime
import math
import sys
import threading
import time

from prometheus_client import start_http_server
from prometheus_client.core import (REGISTRY, CounterMetricFamily, GaugeMetricFamily,
                                    HistogramMetricFamily)

import ballast_metrics
import kube

BUCKETS = [0.05, 0.1, 0.2, 0.5, 1, 2, 3, 5, 10, 20]


def read_trace(path):
    times, rps = [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            t = datetime.datetime.strptime(row["period"], "%Y-%m-%d %H:%M:%S")
            times.append(t.replace(tzinfo=datetime.timezone.utc).timestamp())
            rps.append(int(row["count"]) / 60)
    return times, rps


class Tts:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.requests = 0.0
        self.buckets = [0.0] * len(BUCKETS)  # non-cumulative counts per bucket
        self.total_seconds = 0.0
        self.replicas = a.initial
        self.trace_time = 0.0

    def serve(self, rps, dt):
        """Accounts for dt seconds at rps requests/s."""
        n = rps * dt
        u = rps / max(1, self.replicas) / self.a.capacity
        mean = self.a.cap if u >= 1 else min(self.a.cap, self.a.base / (1 - u))
        # P(latency <= b) for an exponential of this mean.
        cdf = [1 - math.exp(-b / mean) for b in BUCKETS]
        with self.lock:
            self.requests += n
            self.total_seconds += n * mean
            for i, c in enumerate(cdf):
                self.buckets[i] += n * (c - (cdf[i - 1] if i else 0))

    def collect(self):  # called by prometheus_client at each scrape
        with self.lock:
            yield CounterMetricFamily("tts_requests", "Requests served.", value=self.requests)
            cumulative, acc = [], 0.0
            for b, c in zip(BUCKETS, self.buckets):
                acc += c
                cumulative.append((str(b), acc))
            cumulative.append(("+Inf", self.requests))
            yield HistogramMetricFamily("tts_request_duration_seconds", "Request latency.",
                                        buckets=cumulative, sum_value=self.total_seconds)
            yield GaugeMetricFamily("tts_ready_replicas", "Replicas serving.",
                                    value=self.replicas)
            yield GaugeMetricFamily("tts_trace_timestamp_seconds", "The trace's clock.",
                                    value=self.trace_time)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("trace")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ballast", required=True, help="ballast's /metrics URL")
    p.add_argument("--target", default="tts-api")
    p.add_argument("--start", default="1998-07-07 19:00", help="trace time to start at (UTC)")
    p.add_argument("--minutes", type=int, default=300, help="trace minutes per round")
    p.add_argument("--speed", type=float, default=60)
    p.add_argument("--capacity", type=float, default=70, help="requests/s per replica")
    p.add_argument("--base", type=float, default=0.2, help="latency when idle, seconds")
    p.add_argument("--cap", type=float, default=3,
                   help="mean latency when overloaded (requests time out)")
    p.add_argument("--initial", type=int, default=2, help="replicas before ballast answers")
    p.add_argument("--cluster", help="demo/cluster.py's INFO.json: the replicas are the "
                   "target's Deployment's spec.replicas")
    a = p.parse_args()

    times, rps = read_trace(a.trace)
    start = datetime.datetime.strptime(a.start, "%Y-%m-%d %H:%M").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    first = bisect.bisect_left(times, start)
    tts = Tts(a)
    cluster = kube.Kube.load(a.cluster) if a.cluster else None
    REGISTRY.register(tts)
    start_http_server(a.port, addr="127.0.0.1")
    t0 = None  # the trace's clock starts when ballast first answers
    last = followed = time.monotonic()
    while True:
        time.sleep(0.25)
        now = time.monotonic()
        if now - followed >= 1:  # once a second: follow ballast (or the Deployment)
            followed = now
            want = ballast_metrics.recommended(a.ballast, a.target)
            if want is not None:
                t0 = t0 or now
            if cluster:
                want = cluster.spec_replicas(a.target)
            if want is not None:
                tts.replicas = want
        played = (now - t0) * a.speed if t0 else 0  # trace seconds played
        minute = first + int(played / 60) % a.minutes
        tts.trace_time = times[minute]
        tts.serve(rps[minute], now - last)
        last = now


if __name__ == "__main__":
    sys.exit(main())
