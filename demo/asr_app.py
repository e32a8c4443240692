"""The demo's Celery app: a stand-in ASR worker (run with /usr/bin/python3).

Configured from the environment:
  DEMO_BROKER_URL  redis://127.0.0.1:PORT/0
  DEMO_READY_DIR   the worker touches DIR/<hostname> once it consumes, and
                   removes it when it stops (fleet.py counts ready workers so)
Worker:   python3 -m celery -A asr_app worker -Q asr ...  (demo/ on PYTHONPATH)
"""
import os
import time

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

app = Celery("ballast_demo", broker=os.environ["DEMO_BROKER_URL"])
# Early acks (Celery's default): a job is acked when it starts, so with
# --prefetch-multiplier 1 a busy worker also holds (reserves) the next job,
# which kombu keeps in the `unacked` hash until it starts. The jobs nobody has
# started are then the queue plus the unacked hash: ballast's backlog with
# includeReserved on. (Late acks would keep a worker to the job it runs, but
# with kombu 5.2 a worker then idles ~3 s between jobs.)
app.conf.task_acks_late = False
app.conf.worker_hijack_root_logger = False
app.conf.broker_connection_retry_on_startup = True


@app.task(name="demo.transcribe")
def transcribe(seconds, enqueued_at):
    """One ASR job: occupies the worker for its service time."""
    time.sleep(seconds)


def _ready_file(sender):
    return os.path.join(os.environ["DEMO_READY_DIR"], sender.hostname)


@worker_ready.connect
def _ready(sender, **_):
    open(_ready_file(sender), "w").close()


@worker_shutdown.connect
def _stopping(sender, **_):
    try:
        os.remove(_ready_file(sender))
    except OSError:
        pass
