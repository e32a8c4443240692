#!/usr/bin/python3
"""An exporter whose series the tests know exactly.

Every 100 ms (on an absolute schedule, so no drift) it adds RATE/10 to
ballast_test_requests_total, and observes 20 ASR latencies, 0.05, 0.15, ...,
1.95 s: one in the middle of each 0.1 s-wide bucket of
ballast_test_asr_latency_seconds (buckets 0.1 .. 2.0). The latencies are
uniform on [0, 2) s, so the true p95 is 1.9 s, and as each bucket gains the
same count, histogram_quantile's linear interpolation gives 1.9 s too.
Usage: exporter.py PORT RATE_PER_SECOND
"""
import sys
import time

from prometheus_client import Counter, Histogram, start_http_server

TICK = 0.1
BUCKETS = [round(0.1 * i, 1) for i in range(1, 21)]


def main():
    port, rate = int(sys.argv[1]), float(sys.argv[2])
    requests = Counter("ballast_test_requests", "Requests served.")
    latency = Histogram("ballast_test_asr_latency_seconds",
                        "ASR request latency.", ["service"], buckets=BUCKETS)
    asr = latency.labels(service="asr")
    start_http_server(port, addr="127.0.0.1")
    next_tick = time.monotonic()
    while True:
        requests.inc(rate * TICK)
        for i in range(20):
            asr.observe(0.1 * i + 0.05)
        next_tick += TICK
        time.sleep(max(0.0, next_tick - time.monotonic()))


if __name__ == "__main__":
    main()
