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

import collections
import json
import os

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


def register(cp, https_port, dir, token_duration="2h"):
    """Applies k8s/ballast.yaml to cp for a ballast on 127.0.0.1:https_port.

    Writes the serving certificate (dir/serving/) and ballast's kubeconfig
    (dir/ballast.kubeconfig, the ServiceAccount's token valid for
    token_duration) and returns them as a Deployed. ballast itself is the
    caller's to start, with that certificate on https_port.
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
    cp.apply(manifest)
    # No kube-proxy and no kubelet: the Service resolves to ballast's
    # loopback port as an ExternalName; the APIService names that port.
    cp.kubectl("delete", "service", SERVICE, "-n", NAMESPACE)
    cp.apply(json.dumps({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": NAMESPACE},
        "spec": {"type": "ExternalName", "externalName": "127.0.0.1",
                 "ports": [{"name": "https", "port": https_port}]}}))
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
