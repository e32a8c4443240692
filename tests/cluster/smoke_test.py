"""Checks that ControlPlane is a working cluster for ballast's tests.

    /usr/bin/python3 tests/cluster/smoke_test.py BIN_DIR [unittest args]

BIN_DIR is what scripts/lib.sh's ballast_cluster_binaries prints (or set
BALLAST_CLUSTER_BIN). One control plane serves every test:

- the deployment and replicaset controllers create pods (Pending: no
  kubelet);
- the HPA controller works on a CPU metric it cannot get;
- the aggregator proxies external.metrics.k8s.io, through an ExternalName
  Service pointing at 127.0.0.1, to a stand-in for ballast that requires the
  front-proxy client certificate, and an HPA scales on its metric;
- RBAC applies to user_kubeconfig's users.
"""

import http.server
import json
import os
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from control_plane import ControlPlane, make_serving_cert, read_b64  # noqa: E402

BIN_DIR = os.environ.get("BALLAST_CLUSTER_BIN")

EXTERNAL_METRICS = "/apis/external.metrics.k8s.io/v1beta1"


def wait_for(what, predicate, timeout=60, interval=0.5):
    """Polls predicate() until it returns something true; returns that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def deployment(name, replicas):
    return """
apiVersion: apps/v1
kind: Deployment
metadata: {name: %(name)s, namespace: default}
spec:
  replicas: %(replicas)d
  selector: {matchLabels: {app: %(name)s}}
  template:
    metadata: {labels: {app: %(name)s}}
    spec:
      containers:
      - name: main
        image: registry.k8s.io/pause:3.10
        resources: {requests: {cpu: 10m}}
""" % {"name": name, "replicas": replicas}


class FakeExternalMetrics:
    """An HTTPS external.metrics.k8s.io server in the way ballast serves it:
    TLS with a certificate for ballast.autoscaling.svc, client certificates
    from the front-proxy CA required; records the X-Remote-User of each
    request."""

    def __init__(self, dir, front_proxy_ca, values):
        self.values = values
        self.users = []
        certs = make_serving_cert(dir, ["ballast.autoscaling.svc"], ["127.0.0.1"])
        self.ca_bundle = read_b64(certs["ca"])
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(certs["cert"], certs["key"])
        tls.verify_mode = ssl.CERT_REQUIRED
        tls.load_verify_locations(front_proxy_ca)

        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                fake.users.append(self.headers.get("X-Remote-User"))
                path = self.path.split("?")[0]
                if path == EXTERNAL_METRICS:
                    self.reply(200, {
                        "kind": "APIResourceList", "apiVersion": "v1",
                        "groupVersion": "external.metrics.k8s.io/v1beta1",
                        "resources": [],
                    })
                elif path.startswith(EXTERNAL_METRICS + "/namespaces/"):
                    metric = path.rsplit("/", 1)[1]
                    if metric not in fake.values:
                        self.reply(404, {"kind": "Status", "apiVersion": "v1",
                                         "status": "Failure", "code": 404})
                        return
                    self.reply(200, {
                        "kind": "ExternalMetricValueList",
                        "apiVersion": "external.metrics.k8s.io/v1beta1",
                        "metadata": {},
                        "items": [{
                            "metricName": metric, "metricLabels": {},
                            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            "value": fake.values[metric],
                        }],
                    })
                else:
                    self.reply(404, {"kind": "Status", "apiVersion": "v1",
                                     "status": "Failure", "code": 404})

            def reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # The handshake happens in the handler's thread, on the first read.
        self.httpd.socket = tls.wrap_socket(
            self.httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class ControlPlaneTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cp = ControlPlane(BIN_DIR, hpa_sync_period=1)
        cls.cp.start()
        print("control plane started in %.1fs" % cls.cp.start_seconds, file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.cp.stop()

    def get(self, *args):
        """kubectl get ARGS; its output."""
        return self.cp.kubectl("get", *args).stdout

    def test_version(self):
        version = json.loads(self.cp.kubectl("version", "-o", "json").stdout)
        self.assertEqual(version["serverVersion"]["gitVersion"], "v1.35.4")
        self.assertEqual(version["clientVersion"]["gitVersion"], "v1.35.4")

    def test_deployment_creates_pods(self):
        self.cp.apply(deployment("web", 3))
        wait_for("3 replicas of deployment web", lambda: self.get(
            "deployment", "web", "-o", "jsonpath={.status.replicas}") == "3")
        pods = self.get("pods", "-l", "app=web", "-o",
                             "jsonpath={.items[*].status.phase}").split()
        self.assertEqual(pods, ["Pending"] * 3)

    def test_hpa_without_metrics_server(self):
        self.cp.apply(deployment("cpu", 1))
        self.cp.apply("""
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: cpu, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: cpu}
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
""")
        reason = wait_for("the HPA controller's ScalingActive condition", lambda: self.get(
            "hpa", "cpu", "-o",
            'jsonpath={.status.conditions[?(@.type=="ScalingActive")].reason}'))
        self.assertEqual(reason, "FailedGetResourceMetric")

    def test_external_metrics_through_the_aggregator(self):
        cp = self.cp
        fake = FakeExternalMetrics(os.path.join(cp.dir, "fake-ballast"),
                                   cp.pki["front_proxy_ca"], {"queue_depth": "30"})
        self.addCleanup(fake.close)
        cp.apply("{apiVersion: v1, kind: Namespace, metadata: {name: autoscaling}}")
        manifest = """
# No kube-proxy: a ClusterIP leads nowhere. The aggregator dials an
# ExternalName Service's externalName at the APIService's port.
apiVersion: v1
kind: Service
metadata: {name: ballast, namespace: autoscaling}
spec: {type: ExternalName, externalName: 127.0.0.1}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.external.metrics.k8s.io}
spec:
  group: external.metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  service: {namespace: autoscaling, name: ballast, port: %d}
  caBundle: %s
""" % (fake.port, fake.ca_bundle)
        cp.apply(manifest, "--dry-run=server")
        cp.apply(manifest)
        wait_for("APIService v1beta1.external.metrics.k8s.io Available", lambda: self.get(
            "apiservice", "v1beta1.external.metrics.k8s.io", "-o",
            'jsonpath={.status.conditions[?(@.type=="Available")].status}') == "True")

        value = json.loads(cp.kubectl(
            "get", "--raw", EXTERNAL_METRICS + "/namespaces/default/queue_depth").stdout)
        self.assertEqual(value["items"][0]["value"], "30")
        self.assertIn("admin", fake.users)

        # 30 / averageValue 10 = 3 replicas, read by the HPA controller under
        # its own service account.
        cp.apply(deployment("worker", 1))
        cp.apply("""
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: worker, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: worker}
  minReplicas: 1
  maxReplicas: 10
  metrics:
  - type: External
    external:
      metric: {name: queue_depth}
      target: {type: AverageValue, averageValue: "10"}
""")
        wait_for("the HPA to scale worker to 3", lambda: self.get(
            "deployment", "worker", "-o", "jsonpath={.spec.replicas}") == "3")
        self.assertIn("system:serviceaccount:kube-system:horizontal-pod-autoscaler",
                      fake.users)

    def test_user_kubeconfig_is_subject_to_rbac(self):
        alice = self.cp.user_kubeconfig("alice")
        denied = self.cp.kubectl("get", "pods", kubeconfig=alice, check=False)
        self.assertNotEqual(denied.returncode, 0)
        self.assertIn('User "alice" cannot list resource "pods"', denied.stderr)
        root = self.cp.user_kubeconfig("root", groups=["system:masters"])
        self.cp.kubectl("get", "pods", kubeconfig=root)


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        BIN_DIR = sys.argv.pop(1)
    if not BIN_DIR:
        sys.exit("usage: smoke_test.py BIN_DIR [unittest args] (or BALLAST_CLUSTER_BIN)")
    unittest.main(verbosity=2)
