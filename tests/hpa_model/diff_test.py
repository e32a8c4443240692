"""Differential test: `ballast simulate` in HPA mode (mode: hpa, closed loop,
--pod-startup-seconds 0) against hpa_model.py, the controller model, sync by
sync over generated scenarios.

usage: diff_test.py --ballast PATH [--scenarios N] [--seed S] [--keep DIR]

Each scenario is one target with random bounds, a start inside or outside
them, a behavior (or none: the legacy rule) with several policies and
selectPolicy Max/Min/Disabled, windows, per-direction tolerances, fractional
targets and values, missing samples and a KEDA fallback. Scenarios run in
batches (one config and trace per batch). A mismatch prints the scenario,
the sync and both values; the exit code is 1 if there is any.
"""
import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hpa_model  # noqa: E402

TARGETS = ["0.1", "0.3", "0.25", "0.09", "1", "1.5", "2.5", "3", "7", "10", "30"]
TOLERANCES = ["0", "0.05", "0.07", "0.1", "0.15", "0.2", "0.333"]
WINDOWS = [0, 15, 30, 45, 60, 120, 300]
PERIODS = [15, 30, 45, 60, 90, 120, 300]
FALLBACK_BEHAVIORS = ["static", "currentReplicas", "currentReplicasIfHigher",
                      "currentReplicasIfLower"]
DEFAULT_UP = {"window": 0, "select": "Max",
              "policies": [("Pods", 4, 15), ("Percent", 100, 15)],
              "tolerance": None}
DEFAULT_DOWN = {"window": 300, "select": "Max",
                "policies": [("Percent", 100, 15)], "tolerance": None}


def gen_rules(rng):
    rules = {
        "window": rng.choice(WINDOWS),
        "select": rng.choices(["Max", "Min", "Disabled"], [5, 4, 1])[0],
        "policies": [],
        "tolerance": rng.choice(TOLERANCES) if rng.random() < 0.5 else None,
    }
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.5:
            rules["policies"].append(("Pods", rng.randint(1, 5),
                                      rng.choice(PERIODS)))
        else:
            rules["policies"].append(("Percent",
                                      rng.choice([10, 25, 50, 100, 200]),
                                      rng.choice(PERIODS)))
    return rules


def gen_scenario(rng, name):
    lo = rng.choice([0, 1, 1, 2, 3, 4])
    hi = max(1, lo + rng.randint(0, 15))
    spec = {"min": lo, "max": hi, "behavior": None, "fallback": None}
    tol_text = rng.choice([None, "0.05", "0.1", "0.2", "0.07"])
    spec["tolerance_text"] = tol_text
    spec["tolerance"] = float(tol_text) if tol_text else 0.1
    if rng.random() < 0.75:
        spec["behavior"] = {
            "up": gen_rules(rng) if rng.random() < 0.8 else dict(DEFAULT_UP),
            "down": gen_rules(rng) if rng.random() < 0.8 else dict(DEFAULT_DOWN),
        }
    spec["inputs"] = []
    for i in range(rng.randint(1, 3)):
        spec["inputs"].append({
            "name": f"{name.replace('-', '_')}_{i}",
            "type": rng.choice(["AverageValue", "Value"]),
            "target": rng.choice(TARGETS),
        })
    if rng.random() < 0.35:
        spec["fallback"] = {"threshold": rng.randint(0, 3),
                            "replicas": rng.randint(lo, hi),
                            "behavior": rng.choice(FALLBACK_BEHAVIORS)}
    spec["initial"] = rng.choices(
        [lo, hi, rng.randint(0, hi + 5), 0, hi + rng.randint(1, 5)],
        [2, 1, 4, 1, 2])[0]
    return spec


def gen_series(rng, inp, ticks, hi):
    """Decimal strings (None = an empty cell), a random walk around levels
    that move the count within and past the bounds, with exact multiples of
    the target now and then."""
    target = float(inp["target"])
    if inp["type"] == "Value":
        hi = 3  # a Value target scales the current count by value / target
    level = target * rng.randint(0, hi + 2)
    out = []
    missing_run = 0
    for _ in range(ticks):
        if missing_run > 0:
            missing_run -= 1
            out.append(None)
            continue
        if rng.random() < 0.06:
            missing_run = rng.randint(0, 6)
            out.append(None)
            continue
        r = rng.random()
        if r < 0.1:
            level = target * rng.randint(0, hi + 3)
        elif r < 0.6:
            level = max(0.0, level * rng.uniform(0.7, 1.35))
        if rng.random() < 0.15:
            text = f"{target * rng.randint(0, hi + 3):.3f}"
        else:
            # Four or five decimals now and then: below a milli-unit,
            # which Quantity.MilliValue rounds up.
            text = f"{level:.{rng.choice([0, 1, 2, 3, 3, 4, 5])}f}"
        # Canonical decimal text: what ballast's double prints back as.
        text = repr(float(text))
        if text.endswith(".0"):
            text = text[:-2]
        out.append(text)
    return out


def rules_yaml(rules):
    pol = ", ".join(f"{{type: {t}, value: {v}, periodSeconds: {p}}}"
                    for t, v, p in rules["policies"])
    text = (f"{{stabilizationWindowSeconds: {rules['window']}, "
            f"selectPolicy: {rules['select']}, policies: [{pol}]")
    if rules.get("tolerance") is not None:
        text += f", tolerance: {rules['tolerance']}"
    return text + "}"


def target_yaml(name, spec, static):
    lines = [f"  - name: {name}", "    mode: hpa",
             f"    minReplicas: {spec['min']}", f"    maxReplicas: {spec['max']}"]
    if spec["tolerance_text"]:
        lines.append(f"    tolerance: {spec['tolerance_text']}")
    if static:
        lines.append(f"    currentReplicas: {{static: {spec['initial']}}}")
    lines.append("    inputs:")
    for inp in spec["inputs"]:
        key = "averageValue" if inp["type"] == "AverageValue" else "value"
        lines.append(f"      - {{name: {inp['name']}, {key}: {inp['target']}}}")
    b = spec["behavior"]
    if b is not None:
        lines.append("    behavior:")
        lines.append(f"      scaleUp: {rules_yaml(b['up'])}")
        lines.append(f"      scaleDown: {rules_yaml(b['down'])}")
    fb = spec["fallback"]
    if fb is not None:
        lines.append(f"    fallback: {{failureThreshold: {fb['threshold']}, "
                     f"replicas: {fb['replicas']}, behavior: {fb['behavior']}}}")
    return "\n".join(lines)


def run_batch(ballast, rng, batch, size, workdir):
    poll = rng.choice([10, 15, 15, 30])
    ticks = rng.randint(60, 120)
    use_flag = rng.random() < 0.25
    flag_initial = rng.randint(1, 20)
    names = [f"b{batch}-s{k}" for k in range(size)]
    specs = [gen_scenario(rng, n) for n in names]
    if use_flag:
        for s in specs:
            s["initial"] = flag_initial
    series = {}
    for s in specs:
        for inp in s["inputs"]:
            series[inp["name"]] = gen_series(rng, inp, ticks, s["max"])
    d = os.path.join(workdir, f"batch{batch}")
    os.makedirs(d, exist_ok=True)
    config = os.path.join(d, "config.yaml")
    with open(config, "w") as f:
        f.write(f"server: {{pollIntervalSeconds: {poll}}}\ntargets:\n")
        f.write("\n".join(target_yaml(n, s, not use_flag)
                          for n, s in zip(names, specs)) + "\n")
    trace = os.path.join(d, "trace.csv")
    cols = list(series)
    with open(trace, "w") as f:
        f.write(",".join(["time"] + cols) + "\n")
        for k in range(ticks):
            f.write(",".join([str(k * poll)] +
                             [series[c][k] or "" for c in cols]) + "\n")
    cmd = [ballast, "simulate", "--config", config, "--trace", trace,
           "--out", os.path.join(d, "out"), "--pod-startup-seconds", "0"]
    if use_flag:
        cmd += ["--initial-replicas", str(flag_initial)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"batch {batch}: {' '.join(cmd)} exited {proc.returncode}:\n"
              f"{proc.stderr}")
        return size, size
    mismatched = 0
    for name, spec in zip(names, specs):
        with open(os.path.join(d, "out", name, "timeline.csv")) as f:
            rows = list(csv.DictReader(f))
        model = hpa_model.Hpa(spec)
        current = spec["initial"]
        for k in range(ticks):
            values = [series[inp["name"]][k] for inp in spec["inputs"]]
            expected = model.sync(k * poll, current, current, values)
            got = int(rows[k]["recommendation"])
            if got != expected:
                mismatched += 1
                print(f"MISMATCH {name} sync {k} (t={k * poll}s, current "
                      f"{current}, values {values}): ballast {got}, model "
                      f"{expected} ({rows[k]['limited_by']})\nscenario:\n"
                      f"{target_yaml(name, spec, True)}\n"
                      f"pollIntervalSeconds: {poll}; files in {d}\n")
                break
            current = expected
    return size, mismatched


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ballast", required=True)
    ap.add_argument("--scenarios", type=int, default=400)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--keep", help="write the batches here and keep them")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="hpa-diff-") as tmp:
        workdir = args.keep or tmp
        total = mismatched = 0
        batch = 0
        while total < args.scenarios:
            size = min(25, args.scenarios - total)
            n, bad = run_batch(args.ballast, rng, batch, size, workdir)
            total += n
            mismatched += bad
            batch += 1
    print(f"{total} scenarios, {mismatched} with a mismatch")
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
