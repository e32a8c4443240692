"""Replays the azure-llm-2023 request arrivals into the Celery queue `asr`.

Each request becomes one `demo.transcribe` job whose service time is the one
`ballast trace convert --format azure-llm` uses (0.5 s + 0.0005 s per context
token + 0.02 s per generated token), divided by --speed: the trace plays
--speed times faster than it was recorded, with jobs --speed times shorter,
so the queue behaves as the recorded one would, only faster. --keep-every K
keeps one request in K (the fleet then needs K times fewer workers: about 30
at full size, 10 with K=3). When the trace ends it waits --gap seconds (no
load: the fleet scales down) and starts again.

  DEMO_BROKER_URL=redis://... python3 asr_producer.py TRACE.csv [--speed 15]
"""
import argparse
import csv
import datetime
import sys
import time

from asr_app import app


def read_trace(path, keep_every):
    """[(offset_seconds, service_seconds)] in recorded time."""
    jobs, start = [], None
    with open(path, newline="") as f:
        for i, row in enumerate(csv.DictReader(f)):
            # 2023-11-16 18:15:46.6805900: seven fractional digits; keep six.
            t = datetime.datetime.strptime(row["TIMESTAMP"][:26], "%Y-%m-%d %H:%M:%S.%f")
            start = start or t
            if i % keep_every:
                continue
            service = (0.5 + 0.0005 * int(row["ContextTokens"])
                       + 0.02 * int(row["GeneratedTokens"]))
            jobs.append(((t - start).total_seconds(), service))
    return jobs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("trace")
    p.add_argument("--speed", type=float, default=15)
    p.add_argument("--keep-every", type=int, default=3)
    p.add_argument("--gap", type=float, default=20)
    a = p.parse_args()
    jobs = read_trace(a.trace, a.keep_every)
    print(f"asr producer: {len(jobs)} jobs over {jobs[-1][0] / a.speed:.0f} s "
          f"per round (speed {a.speed:g}x, 1 in {a.keep_every})", flush=True)
    with app.producer_or_acquire() as producer:
        while True:
            t0 = time.monotonic()
            for offset, service in jobs:
                delay = t0 + offset / a.speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                app.send_task("demo.transcribe", args=[service / a.speed, time.time()],
                              queue="asr", producer=producer)
            time.sleep(a.gap)


if __name__ == "__main__":
    sys.exit(main())
