"""The Kubernetes side of `scripts/demo --cluster` (run with /usr/bin/python3).

  cluster.py up --bin-dir BIN --dir DIR --https-port PORT --policy TEMPLATE \\
                --info INFO.json --env INFO.env
      Starts a real control plane on 127.0.0.1 (tests/cluster/control_plane.py:
      etcd, kube-apiserver with the aggregation layer, kube-controller-manager
      with the HPA controller) with its state in DIR, and wires ballast into it
      as tests/cluster/cluster_test.py does (tests/cluster/ballast_in_cluster.py:
      k8s/ballast.yaml applied, the APIService pointed at 127.0.0.1:PORT,
      ballast's ServiceAccount token in a kubeconfig). Then, per target of the
      policy TEMPLATE (demo/ballast-live.yaml.in), a Deployment of pause pods
      (no kubelet runs: they stay Pending, but the HPA scales the Deployment)
      and an HPA like k8s/hpa-example.yaml on ballast_recommended_replicas
      with the target's bounds. It writes what the other helpers need to
      INFO.json (demo/kube.py reads it) and to INFO.env (shell variables for
      scripts/demo), both once everything is created, and runs until SIGTERM
      or SIGINT, when it stops the control plane (ControlPlane.stop()).

  cluster.py config FILE --info INFO.json
      Rewrites ballast's config FILE (rendered from the template) for the
      cluster: each target's currentReplicas becomes its Deployment's
      (`{kubernetes: {namespace, deployment}}`) and a top-level
      `kubernetes: {kubeconfig: ...}` gives ballast its ServiceAccount.
"""
import argparse
import json
import os
import re
import shlex
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "cluster"))
import ballast_in_cluster  # noqa: E402
import control_plane  # noqa: E402

# The Deployment standing for each target of demo/ballast-live.yaml.in, and
# its replicas until the HPA first acts (the live demo's --initial values).
WORKLOADS = {
    "asr-worker": {"namespace": "speech", "initial": 2},
    "tts-api": {"namespace": "speech", "initial": 8},
}

# The HPA controller's sync period: 15 s by default, 1 s here as the demo
# replays its traces 15x (asr-worker) and 60x (tts-api) faster than recorded.
HPA_SYNC_SECONDS = 1

# A target of the template: "  - name: X" then its minReplicas and maxReplicas
# (each line may end in a comment).
_TARGET = re.compile(r"^  - name: (\S+)\n    minReplicas: (\d+).*\n    maxReplicas: (\d+)",
                     re.M)
# A target's currentReplicas block: the key and the lines indented under it.
_CURRENT = re.compile(r"^    currentReplicas:.*\n(?:      .*\n)*", re.M)


def target_bounds(policy_text):
    """{target: (minReplicas, maxReplicas)} of every target in the policy."""
    bounds = {m.group(1): (int(m.group(2)), int(m.group(3)))
              for m in _TARGET.finditer(policy_text)}
    if set(bounds) != set(WORKLOADS):
        sys.exit("cluster.py: the policy's targets %s are not %s (update WORKLOADS)"
                 % (sorted(bounds), sorted(WORKLOADS)))
    return bounds


def write_atomically(path, text):
    """Writes path whole or not at all: scripts/demo waits for it to exist."""
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


class _Stop(Exception):
    """Raised by the SIGTERM/SIGINT handler to unwind into cleanup."""


def _on_signal(signum, frame):
    # Once: a second signal must not interrupt the cleanup it started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise _Stop()


def up(a):
    with open(a.policy) as f:
        bounds = target_bounds(f.read())
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    cp = control_plane.ControlPlane(a.bin_dir, dir=a.dir, hpa_sync_period=HPA_SYNC_SECONDS)
    try:
        cp.start()
        print("control plane ready in %.1f s: %s" % (cp.start_seconds, cp.server), flush=True)
        deployed = ballast_in_cluster.register(cp, a.https_port, os.path.join(cp.dir, "ballast"),
                                               token_duration="24h")
        for target, (low, high) in sorted(bounds.items()):
            w = WORKLOADS[target]
            ballast_in_cluster.create_deployment(cp, w["namespace"], target, w["initial"])
            cp.apply(ballast_in_cluster.hpa_manifest(cp, target, w["namespace"], low, high))
            print("Deployment and HPA %s/%s: %d replicas, HPA bounds %d..%d"
                  % (w["namespace"], target, w["initial"], low, high), flush=True)

        kubectl = os.path.join(cp.bin_dir, "kubectl")
        info = {
            "server": cp.server,
            "ca": cp.pki["ca"],
            "cert": cp.pki["admin"],       # the admin's client certificate
            "key": cp.pki["admin_key"],
            "kubeconfig": cp.kubeconfig,   # the admin's
            "kubectl": kubectl,
            "logs": os.path.join(cp.dir, "logs"),
            "ballastKubeconfig": deployed.kubeconfig,
            "servingCert": deployed.serving["cert"],
            "servingKey": deployed.serving["key"],
            "workloads": {t: {"namespace": WORKLOADS[t]["namespace"],
                              "deployment": t, "hpa": t} for t in bounds},
        }
        write_atomically(a.info, json.dumps(info, indent=2) + "\n")
        shell = {"cluster_kubeconfig": cp.kubeconfig, "cluster_kubectl": kubectl,
                 "cluster_logs": info["logs"], "cluster_serving_cert": info["servingCert"],
                 "cluster_serving_key": info["servingKey"]}
        write_atomically(a.env, "".join("%s=%s\n" % (k, shlex.quote(v))
                                        for k, v in shell.items()))
        # Until told to stop; a server of the control plane that dies ends it.
        while True:
            cp.check()
            time.sleep(1)
    except _Stop:
        print("stopping the control plane", flush=True)
        return 0
    except (control_plane.ControlPlaneError, control_plane.KubectlError) as e:
        print("cluster.py: %s" % e, file=sys.stderr, flush=True)
        return 1
    finally:
        # No signal may interrupt this (a second Ctrl-C, the script's SIGTERM).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        cp.stop()


def replace_once(text, pattern, new, what):
    text, n = pattern.subn(lambda _: new, text, count=2)
    if n != 1:
        sys.exit("cluster.py: expected one %s, found %d" % (what, n))
    return text


def config(a):
    with open(a.info) as f:
        info = json.load(f)
    with open(a.file) as f:
        text = f.read()
    # Split before each target ("  - name: ..."), and rewrite each one's block.
    parts = re.split(r"(?m)^(?=  - name: )", text)
    for i, part in enumerate(parts):
        m = re.match(r"  - name: (\S+)", part)
        if not m:
            continue
        w = info["workloads"][m.group(1)]
        parts[i] = replace_once(
            part, _CURRENT,
            "    currentReplicas:    # the Deployment's spec.replicas, which the HPA sets\n"
            "      kubernetes: {namespace: %s, deployment: %s}\n"
            % (w["namespace"], w["deployment"]),
            "currentReplicas in target " + m.group(1))
    text = replace_once(
        "".join(parts), re.compile(r"^sources:\n", re.M),
        "# scripts/demo --cluster: ballast reaches the API server as the `ballast`\n"
        "# ServiceAccount of k8s/ballast.yaml (its token in this kubeconfig).\n"
        "kubernetes:\n  kubeconfig: %s\n\nsources:\n" % json.dumps(info["ballastKubeconfig"]),
        "top-level sources:")
    write_atomically(a.file, text)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    u = sub.add_parser("up", help="run the control plane with ballast's objects")
    u.add_argument("--bin-dir", required=True, help="ballast_cluster_binaries' directory")
    u.add_argument("--dir", required=True, help="the control plane's state and logs")
    u.add_argument("--https-port", type=int, required=True, help="ballast's external metrics port")
    u.add_argument("--policy", required=True, help="demo/ballast-live.yaml.in")
    u.add_argument("--info", required=True, help="JSON written when ready (demo/kube.py)")
    u.add_argument("--env", required=True, help="shell variables written when ready")
    c = sub.add_parser("config", help="rewrite ballast's config for the cluster")
    c.add_argument("file")
    c.add_argument("--info", required=True)
    a = p.parse_args()
    return up(a) if a.command == "up" else config(a)


if __name__ == "__main__":
    sys.exit(main())
