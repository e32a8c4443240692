"""The demo's live table: ballast's view of each target, from its /metrics.

One line per target when something moved since its last line (the
recommendation, desired count, ready replicas or limit changed, or an input
by more than 10 %), and at least every 10 s:

  time   target      inputs...                  desired  recommended  ready  limited_by

With --cluster INFO.json (scripts/demo --cluster), ballast's recommendation
and the reason (what limited it) stand beside the real HPA's view, read from
the demo's API server (demo/kube.py): the HPA's status.desiredReplicas and
status.currentReplicas, the Deployment's spec.replicas (which the HPA sets
and the Celery fleet follows) and status.replicas (pods created), and the
HPA's ScalingActive condition:

  time   target      inputs...   ballast  reason   hpa.desired  hpa.current  spec  pods  ScalingActive

  python3 watch.py --ballast http://127.0.0.1:P/metrics [--seconds N] [--cluster INFO.json]
"""
import argparse
import math
import sys
import time

import ballast_metrics
import kube

# The columns --cluster adds, from kube.Kube.view(): (header, key).
CLUSTER_COLUMNS = [("hpa.desired", "desired"), ("hpa.current", "current"),
                   ("spec", "spec"), ("pods", "pods")]


def fmt(v):
    if v is None or math.isnan(v):
        return "-"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def fint(v):
    return "-" if v is None or math.isnan(v) else f"{v:.0f}"


def read(url):
    """{target: {"inputs": {name: value}, "desired": n, ...}} from ballast."""
    targets = {}
    for name, labels, value in ballast_metrics.scrape(url):
        t = labels.get("target")
        if t is None:
            continue
        row = targets.setdefault(t, {"inputs": {}, "limited_by": "-"})
        if name == "ballast_input_value":
            row["inputs"][labels["input"]] = value
        elif name == "ballast_desired_replicas":
            row["desired"] = value
        elif name == "ballast_recommended_replicas":
            row["recommended"] = value
        elif name == "ballast_current_replicas":
            row["ready"] = value
        elif name == "ballast_limited_by" and value == 1:
            row["limited_by"] = labels["reason"]
    return targets


def moved(row, last):
    if last is None:
        return True
    if any(row.get(k) != last.get(k) for k in ("desired", "recommended", "ready", "limited_by",
                                               "cluster")):
        return True
    for name, v in row["inputs"].items():
        old = last["inputs"].get(name)
        if old is None or math.isnan(old) != math.isnan(v):
            return True
        if abs(v - old) > 0.1 * max(abs(old), 1e-9) and abs(v - old) > 0.05:
            return True
    return False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ballast", required=True, help="ballast's /metrics URL")
    p.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")
    p.add_argument("--cluster", help="demo/cluster.py's INFO.json: show the HPAs beside ballast")
    a = p.parse_args()
    cluster = kube.Kube.load(a.cluster) if a.cluster else None
    start = time.monotonic()
    last, last_time = {}, {}
    if cluster:
        print(f"{'time':>6}  {'target':<11} {'inputs':<34} {'ballast':>7}  {'reason':<22} "
              + " ".join(f"{h:>{len(h)}}" for h, _ in CLUSTER_COLUMNS) + "  ScalingActive",
              flush=True)
    else:
        print(f"{'time':>6}  {'target':<11} {'inputs':<38} {'desired':>7} {'recommended':>11} "
              f"{'ready':>5}  limited_by", flush=True)
    while not a.seconds or time.monotonic() - start < a.seconds:
        now = time.monotonic()
        try:
            targets = read(a.ballast)
        except OSError:
            targets = {}
        for t, row in sorted(targets.items()):
            if "recommended" not in row:
                continue  # no tick yet
            if cluster:
                row["cluster"] = cluster.view(t)
            if not moved(row, last.get(t)) and now - last_time.get(t, 0) < 10:
                continue
            last[t], last_time[t] = row, now
            inputs = "  ".join(f"{k}={fmt(v)}" for k, v in row["inputs"].items())
            if cluster:
                view = row["cluster"]
                print(f"{now - start:5.0f}s  {t:<11} {inputs:<34} "
                      f"{fint(row.get('recommended')):>7}  {row['limited_by']:<22} "
                      + " ".join(f"{fint(view.get(k)):>{len(h)}}" for h, k in CLUSTER_COLUMNS)
                      + f"  {view.get('active', '-')}", flush=True)
            else:
                print(f"{now - start:5.0f}s  {t:<11} {inputs:<38} {fint(row.get('desired')):>7} "
                      f"{fint(row.get('recommended')):>11} {fint(row.get('ready')):>5}  "
                      f"{row['limited_by']}", flush=True)
        time.sleep(1)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        pass
