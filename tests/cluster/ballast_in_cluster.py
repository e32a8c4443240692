"""ballast wired into a ControlPlane (control_plane.py) as a host process.

Shared by tests/cluster/cluster_test.py and the demo's cluster mode
(demo/cluster.py, `scripts/demo --cluster`). There is no kubelet and no
kube-proxy, so ballast runs on the host, on 127.0.0.1, and the cluster is
pointed at it:

- k8s/ballast.yaml is applied for real (namespace, ServiceAccount, RBAC,
  ConfigMap, Deployment, APIService...), with the CA of a fresh serving
  certificate for ballast.autoscaling.svc in the APIService's caBundle;
- the `ballast` Service becomes an ExternalName Service to 127.0.0.1 and the
  APIService names ballast's HTTPS port, so the aggregator reaches the host
  process;
- ballast's identity is the `ballast` ServiceAccount's token, in a
  kubeconfig: it has exactly the RBAC of k8s/ballast.yaml.

    deployed = register(cp, https_port, dir)
    # ballast's config: kubernetes: {kubeconfig: deployed.kubeconfig},
    # externalMetrics with deployed.serving["cert"] / ["key"] on https_port.
    create_deployment(cp, "speech", "asr-worker", replicas=2)
    cp.apply(hpa_manifest(cp, "asr-worker", "speech", 2, 20))

Only the standard library (and control_plane.py) is used.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import unittest

import control_plane

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NAMESPACE = "autoscaling"            # k8s/ballast.yaml's
SERVICE = "ballast"
APISERVICE = "v1beta1.external.metrics.k8s.io"
# The image of the workloads the HPA scales. No kubelet runs: their pods stay
# Pending, but the Deployment's status.replicas counts the pods created.
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"

# What register() made: the serving certificate (a dict of paths: ca,
# ca_key, cert, key) and the path of ballast's kubeconfig.
Deployed = collections.namedtuple("Deployed", ["serving", "kubeconfig"])


def register(cp, https_port, dir, token_duration="2h", apiservice=True):
    """Applies k8s/ballast.yaml to cp for a ballast on 127.0.0.1:https_port.

    Writes the serving certificate (dir/serving/) and ballast's kubeconfig
    (dir/ballast.kubeconfig, the ServiceAccount's token valid for
    token_duration) and returns them as a Deployed. ballast itself is the
    caller's to start, with that certificate on https_port. With
    apiservice=False the APIService is left out: register_apiservice()
    adds it once ballast is up, so that the aggregator never finds it
    unreachable.
    """
    serving = control_plane.make_serving_cert(
        os.path.join(dir, "serving"),
        dns_names=["%s.%s.svc" % (SERVICE, NAMESPACE)], ip_addresses=["127.0.0.1"])
    # k8s/ballast.yaml for real, with the serving CA in the APIService.
    with open(os.path.join(REPO, "k8s", "ballast.yaml")) as f:
        manifest = f.read()
    if manifest.count('caBundle: ""') != 1:
        raise ValueError("k8s/ballast.yaml: no single empty caBundle to fill in")
    manifest = manifest.replace(
        'caBundle: ""', 'caBundle: "%s"' % control_plane.read_b64(serving["ca"]))
    if not apiservice:
        manifest = "\n---\n".join(
            doc for doc in manifest.split("\n---\n")
            if "\nkind: APIService\n" not in "\n" + doc + "\n")
    cp.apply(manifest)
    # No kube-proxy and no kubelet: the Service resolves to ballast's
    # loopback port as an ExternalName; the APIService names that port.
    cp.kubectl("delete", "service", SERVICE, "-n", NAMESPACE)
    cp.apply(json.dumps({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": NAMESPACE},
        "spec": {"type": "ExternalName", "externalName": "127.0.0.1",
                 "ports": [{"name": "https", "port": https_port}]}}))
    if apiservice:
        cp.kubectl("patch", "apiservice", APISERVICE, "--type=merge", "-p",
                   json.dumps({"spec": {"service": {"port": https_port}}}))
    # ballast's identity: the ServiceAccount's token.
    token = cp.kubectl("create", "token", SERVICE, "-n", NAMESPACE,
                       "--duration=" + token_duration).stdout.strip()
    kubeconfig = os.path.join(dir, "ballast.kubeconfig")
    with open(kubeconfig, "w") as f:
        f.write(json.dumps({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "test", "cluster": {
                "server": cp.server,
                "certificate-authority": cp.pki["ca"]}}],
            "users": [{"name": "ballast", "user": {"token": token}}],
            "contexts": [{"name": "ballast", "context": {
                "cluster": "test", "user": "ballast"}}],
            "current-context": "ballast"}))
    os.chmod(kubeconfig, 0o600)  # it holds a token
    return Deployed(serving=serving, kubeconfig=kubeconfig)


def register_apiservice(cp, https_port, serving):
    """Adds k8s/ballast.yaml's APIService (left out by register(...,
    apiservice=False)) with the serving CA and ballast's port."""
    with open(os.path.join(REPO, "k8s", "ballast.yaml")) as f:
        (doc,) = [d for d in f.read().split("\n---\n")
                  if "\nkind: APIService\n" in "\n" + d + "\n"]
    service = json.loads(cp.kubectl(
        "create", "--dry-run=client", "-o", "json", "-f", "-",
        input=doc).stdout)
    service["spec"]["caBundle"] = control_plane.read_b64(serving["ca"])
    service["spec"]["service"]["port"] = https_port
    cp.apply(json.dumps(service))


def serve_config(kubeconfig, redis_port, https_port, serving, grpc_port,
                 telemetry_port, authorization, targets):
    """ballast.yaml for `ballast serve` as register() deployed it.

    The cluster's kubeconfig, one Redis source named celery, the external
    metrics API on https_port with the serving certificate, Cluster
    authentication and Delegated authorization (`authorization`: the rest of
    its flow mapping, e.g. "allowedTtlSeconds: 2, deniedTtlSeconds: 2"),
    gRPC and telemetry; `targets` is the YAML list under targets:.
    """
    return """\
kubernetes: {kubeconfig: "%(kubeconfig)s"}
sources:
  redis: {celery: {address: "127.0.0.1:%(redis)d", timeoutMs: 300, connectTimeoutMs: 300}}
server:
  pollIntervalSeconds: 1
  externalMetrics:
    listen: "127.0.0.1:%(https)d"
    tlsCertFile: "%(cert)s"
    tlsKeyFile: "%(key)s"
    authentication: {mode: Cluster, refreshSeconds: 1}
    authorization: {mode: Delegated, %(authorization)s}
  grpc: {listen: "127.0.0.1:%(grpc)d"}
  telemetry: {listen: "127.0.0.1:%(telemetry)d", targetMetrics: full}
targets:
""" % {"kubeconfig": kubeconfig, "redis": redis_port, "https": https_port,
       "cert": serving["cert"], "key": serving["key"], "grpc": grpc_port,
       "telemetry": telemetry_port, "authorization": authorization} + targets


def wait_until_served(cp, wait_until, timeout=60):
    """Waits until the API server serves ballast's group through the
    aggregator (GET /apis/external.metrics.k8s.io/v1beta1 as admin is a 200;
    `wait_until`: cluster_test.wait_until).

    Create an HPA on ballast's metric after this: from Kubernetes v1.37 the
    HPA controller syncs a new HPA at once (horizontal.go's enqueueHPA does
    queue.Add; v1.35 did AddRateLimited, one sync period later), so an HPA
    created while the APIService is still being picked up logs
    FailedGetExternalMetric ("the server is currently unable to handle the
    request") on its first sync."""
    group = "/apis/external.metrics.k8s.io/v1beta1"

    def served():
        try:
            return cp.get(group, timeout=5)[0] == 200
        except OSError:
            return False
    wait_until("%s served through the API server" % group, served, timeout)


def set_backlog(client, queue, n):
    """Celery's list `queue` in Redis (`client`) holding n tasks."""
    client.delete(queue)
    if n:
        client.lpush(queue, *["task-%d" % i for i in range(n)])


def served(cp, metric_path):
    """The one value the API server serves at metric_path (through the
    aggregator), or None when the request fails or the list has not one
    item."""
    proc = cp.kubectl("get", "--raw", metric_path, check=False, timeout=10)
    if proc.returncode != 0:
        return None
    items = json.loads(proc.stdout)["items"]
    return int(items[0]["value"]) if len(items) == 1 else None


def spec_replicas(cp, namespace, deployment):
    """spec.replicas of the Deployment, as the HPA sets it."""
    return json.loads(cp.kubectl(
        "get", "deployment", deployment, "-n", namespace,
        "-o", "json").stdout)["spec"]["replicas"]


def create_deployment(cp, namespace, name, replicas):
    """A Deployment of PAUSE_IMAGE with `replicas` replicas, in namespace
    (created when missing)."""
    cp.apply(json.dumps({"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": namespace}}))
    cp.kubectl("create", "deployment", name, "-n", namespace,
               "--image=" + PAUSE_IMAGE, "--replicas=%d" % replicas)


def hpa_manifest(cp, target, namespace, min_replicas, max_replicas,
                 deployment=None):
    """k8s/hpa-example.yaml adapted to another ballast target: the HPA named
    `target` in namespace scaling Deployment `deployment` (default: target)
    on ballast_recommended_replicas{target=...}, within the given bounds.
    Returns it as JSON text for cp.apply(); everything else (the permissive
    behavior, AverageValue 1) is the example's."""
    # kubectl parses the YAML (no YAML module in the standard library).
    hpa = json.loads(cp.kubectl(
        "create", "--dry-run=client", "-o", "json",
        "-f", os.path.join(REPO, "k8s", "hpa-example.yaml")).stdout)
    hpa["metadata"] = {"name": target, "namespace": namespace}
    spec = hpa["spec"]
    spec["scaleTargetRef"]["name"] = deployment or target
    spec["minReplicas"] = min_replicas
    spec["maxReplicas"] = max_replicas
    (metric,) = spec["metrics"]
    metric["external"]["metric"]["selector"] = {"matchLabels": {"target": target}}
    return json.dumps(hpa)


def cluster_bin_dir(minor=None):
    """The directory of the control plane binaries of Kubernetes `minor`
    (e.g. "1.37"; None: scripts/lib.sh's default, the first of its
    BALLAST_CLUSTER_VERSIONS). scripts/test exports them as
    $BALLAST_CLUSTER_BIN_<minor, "_" for ".">, the default also as
    $BALLAST_CLUSTER_BIN; when unset, ballast_cluster_binaries MINOR builds
    them (or finds them in its cache)."""
    name = "BALLAST_CLUSTER_BIN"
    if minor:
        name += "_" + minor.replace(".", "_")
    if os.environ.get(name):
        return os.environ[name]
    out = subprocess.run(
        ["bash", "-c", 'source scripts/lib.sh && ballast_cluster_binaries "$@"',
         "ballast_cluster_binaries", *([minor] if minor else [])],
        cwd=REPO, check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def new_control_plane(minor=None, **kwargs):
    """A ControlPlane (not started; kwargs are its own) on the binaries of
    Kubernetes `minor` (cluster_bin_dir()). Fails unless the binaries are of
    that minor version, and prints their versions to stderr, so that every
    test run says which Kubernetes it ran against."""
    bin_dir = cluster_bin_dir(minor)
    cp = control_plane.ControlPlane(bin_dir, **kwargs)
    versions = cp.versions
    if minor:
        wrong = {tool: v for tool, v in versions.items()
                 if control_plane.minor_of(v) != minor}
        if wrong:
            raise control_plane.ControlPlaneError(
                "asked for Kubernetes %s, but %s has %s" % (minor, bin_dir, wrong))
    print("Kubernetes %s: kube-apiserver %s, kube-controller-manager %s, "
          "kubectl %s (%s)" % (
              cp.version, versions["kube-apiserver"],
              versions["kube-controller-manager"], versions["kubectl"], bin_dir),
          file=sys.stderr)
    return cp


def run_tests(module):
    """The cluster tests' main: --ballast PATH (made absolute) and
    --kubernetes MINOR (the control plane's version, e.g. 1.37; default
    scripts/lib.sh's first) become module.ARGS, the other arguments go to
    unittest, which runs `module`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballast", required=True)
    parser.add_argument("--kubernetes", metavar="MINOR", default=None,
                        help="the Kubernetes minor version to run against")
    module.ARGS, rest = parser.parse_known_args()
    module.ARGS.ballast = os.path.abspath(module.ARGS.ballast)
    unittest.main(module=module, argv=[sys.argv[0]] + rest, verbosity=2)


def start_redis(wait_until):
    """A redis-server on a free loopback port, without persistence; returns
    (process, port, client) once it answers PING (`wait_until` waits 10 s:
    cluster_test.wait_until)."""
    port = control_plane.free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis  # Debian's python3-redis
    client = redis.Redis(host="127.0.0.1", port=port)

    def ping():
        try:
            return client.ping()
        except Exception:
            return False
    wait_until("redis", ping, 10)
    return process, port, client


def stop_redis(process):
    """Terminates start_redis()'s process if it still runs."""
    if process is not None and process.poll() is None:
        process.terminate()
        process.wait()
