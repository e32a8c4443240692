"""A Celery app for ballast's integration tests (run with /usr/bin/python3).

Configured from the environment:
  BALLAST_BROKER_URL         e.g. redis://127.0.0.1:PORT/0
  BALLAST_TRANSPORT_OPTIONS  JSON for broker_transport_options (optional)

As a worker:  python3 -m celery -A celery_app worker -Q a ...
              (with this directory on PYTHONPATH)
As a client:  python3 celery_app.py send QUEUE COUNT PRIORITY [PRIORITY...]
              sends COUNT `ballast.sleep` tasks per PRIORITY to QUEUE
              ("none" sends them without a priority).
"""
import json
import os
import sys
import time

from celery import Celery

app = Celery("ballast_test", broker=os.environ["BALLAST_BROKER_URL"])
app.conf.broker_transport_options = json.loads(
    os.environ.get("BALLAST_TRANSPORT_OPTIONS") or "{}")
# A running task stays unacked until it returns, so that
# waiting + unacked == tasks not yet done.
app.conf.task_acks_late = True
app.conf.worker_hijack_root_logger = False


@app.task(name="ballast.sleep")
def sleep(seconds):
    time.sleep(seconds)


def send(queue, count, priorities):
    with app.producer_or_acquire() as producer:
        for p in priorities:
            extra = {} if p == "none" else {"priority": int(p)}
            for _ in range(count):
                app.send_task("ballast.sleep", args=[60], queue=queue,
                              producer=producer, **extra)


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] != "send":
        sys.exit(__doc__)
    send(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
