"""ballast and the kube-apiserver aggregation layer, in steady state.

One control plane (control_plane.py) and one `ballast serve` outside it
(ballast_in_cluster.py, as cluster_test.py), nothing broken on purpose, so
that every error the control plane logs about ballast is a defect:

- aggregated discovery (/apis as apidiscovery.k8s.io/v2) lists
  external.metrics.k8s.io/v1beta1 as Current with ballast's metrics, and
  `kubectl api-versions` / `kubectl api-resources` show them;
- the API server's OpenAPI v3 lists the group-version and serves ballast's
  document for it; its v2 merges ballast's definitions; `kubectl explain`
  reads them;
- ballast's SubjectAccessReviews give each identity of the control plane
  the answer `kubectl auth can-i --as=...` gives; a denial is logged once;
- the HPA reads ballast's metric with no FailedGetExternalMetric, and over
  more than a minute (a full resync of the aggregator's discovery and
  OpenAPI controllers) kube-apiserver logs no error about ballast's
  APIService and kube-controller-manager none about external metrics.

ballast is started before its APIService is created, so that the aggregator
never finds it missing. Nothing here depends on the Kubernetes version: the
binaries come from $BALLAST_CLUSTER_BIN (else scripts/lib.sh builds them).

Run by ctest (label `cluster`):
    /usr/bin/python3 tests/cluster/interop_test.py --ballast build/ballast
"""

import datetime
import json
import os
import re
import shutil
import ssl
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ballast_in_cluster  # noqa: E402
import cluster_test  # noqa: E402  (Ballast, wait_until, cluster_bin_dir)
import control_plane  # noqa: E402

from cluster_test import wait_until  # noqa: E402

GROUP_VERSION = "external.metrics.k8s.io/v1beta1"
DISCOVERY_PATH = "/apis/" + GROUP_VERSION
METRIC_PATH = cluster_test.METRIC_PATH
METRICS = ["ballast_input", "ballast_recommended_replicas"]
AGGREGATED_V2 = ("application/json;g=apidiscovery.k8s.io;v=v2;"
                 "as=APIGroupDiscoveryList")
# The aggregator refreshes discovery and both OpenAPI documents every minute.
RESYNC_SECONDS = 60
HPA_SYNC_SECONDS = 2

ARGS = None  # set by ballast_in_cluster.run_tests()


def klog_records(path):
    """The records of a klog file: (severity letter, text with continuation
    lines), for E and W records."""
    records = []
    with open(path, errors="replace") as f:
        for line in f:
            if line[:1] in ("E", "W", "I", "F") and line[1:5].isdigit():
                records.append([line[0], line])
            elif records and line[:1] in (" ", "\t", ">"):
                records[-1][1] += line
    return [(sev, text) for sev, text in records if sev in ("E", "W", "F")]


class InteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ballast-interop-test-")
        cls.cp = control_plane.ControlPlane(
            cluster_test.cluster_bin_dir(ARGS.kubernetes),
            hpa_sync_period=HPA_SYNC_SECONDS).start()
        try:
            cls.redis, cls.redis_port, cls.r = ballast_in_cluster.start_redis(
                wait_until)
            cls._deploy()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if getattr(cls, "ballast", None):
                cls.ballast.stop()
        finally:
            ballast_in_cluster.stop_redis(getattr(cls, "redis", None))
            cls.cp.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def _deploy(cls):
        cp = cls.cp
        cls.https_port = control_plane.free_port()
        telemetry_port = control_plane.free_port()
        deployed = ballast_in_cluster.register(cp, cls.https_port, cls.tmp,
                                               apiservice=False)
        cls.serving = deployed.serving
        config_path = os.path.join(cls.tmp, "ballast.yaml")
        with open(config_path, "w") as f:
            f.write(ballast_in_cluster.serve_config(
                deployed.kubeconfig, cls.redis_port, cls.https_port,
                cls.serving, control_plane.free_port(), telemetry_port,
                "allowedTtlSeconds: 2, deniedTtlSeconds: 2", """\
  - name: asr-worker
    minReplicas: 2
    maxReplicas: 20
    currentReplicas: {kubernetes: {namespace: speech, deployment: asr-worker}}
    inputs:
      - {name: backlog, celery: {source: celery, queues: [asr]}, averageValue: 10}
"""))
        cls.ballast = cluster_test.Ballast(
            ARGS.ballast, config_path, os.path.join(cls.tmp, "ballast.log"),
            telemetry_port)
        cls.ballast.start()
        # Only now does the aggregator learn of ballast.
        ballast_in_cluster.register_apiservice(cp, cls.https_port, cls.serving)
        cls.registered = time.monotonic()
        wait_until("APIService Available=True", cls._available, 60)
        wait_until("the metric served through the API server", lambda: cp.kubectl(
            "get", "--raw", METRIC_PATH, check=False).returncode == 0, 30)
        # The HPA starts once the metric is served: its first read succeeds.
        ballast_in_cluster.create_deployment(cp, "speech", "asr-worker",
                                             replicas=2)
        with open(os.path.join(ballast_in_cluster.REPO, "k8s",
                               "hpa-example.yaml")) as f:
            cp.apply(f.read())

    @classmethod
    def _available(cls):
        out = cls.cp.kubectl("get", "apiservice", ballast_in_cluster.APISERVICE,
                             "-o", "json")
        for c in json.loads(out.stdout).get("status", {}).get("conditions", []):
            if c["type"] == "Available":
                return c["status"] == "True" and c
        return False

    # -- helpers -------------------------------------------------------------

    def apiserver_get(self, path, accept=None):
        """GET path from kube-apiserver as admin: (status, headers, body)."""
        ctx = ssl.create_default_context(cafile=self.cp.pki["ca"])
        ctx.load_cert_chain(self.cp.pki["admin"], self.cp.pki["admin_key"])
        request = urllib.request.Request(
            self.cp.server + path, headers={"Accept": accept} if accept else {})
        try:
            with urllib.request.urlopen(request, context=ctx,
                                        timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def ballast_group(self):
        """external.metrics.k8s.io in the API server's aggregated
        discovery, or None."""
        status, headers, body = self.apiserver_get("/apis", AGGREGATED_V2)
        self.assertEqual(status, 200, body[:300])
        self.assertIn("as=APIGroupDiscoveryList", headers["Content-Type"])
        for group in json.loads(body)["items"]:
            if group["metadata"]["name"] == "external.metrics.k8s.io":
                return group
        return None

    def ballast_answer(self, path, user, groups):
        """ballast's own answer to the front proxy's request for user in
        groups (X-Remote-Group headers): its HTTP status."""
        proxy = (self.cp.pki["front_proxy_client"],
                 self.cp.pki["front_proxy_client_key"])
        headers = [("X-Remote-User", user)] + [
            ("X-Remote-Group", g) for g in groups]
        ctx = ssl.create_default_context(cafile=self.serving["ca"])
        ctx.load_cert_chain(*proxy)
        import http.client
        conn = http.client.HTTPSConnection("127.0.0.1", self.https_port,
                                           context=ctx, timeout=10)
        try:
            conn.putrequest("GET", path)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    def can_i(self, *args):
        proc = self.cp.kubectl("auth", "can-i", *args, check=False)
        answer = proc.stdout.strip()
        self.assertIn(answer, ("yes", "no"), proc.stderr)
        return answer == "yes"

    def log_lines(self, needle):
        with open(self.ballast.log_path, errors="replace") as f:
            return [line for line in f if needle in line]

    # -- tests ---------------------------------------------------------------

    def test_1_aggregated_discovery_lists_the_group_current(self):
        def current():
            group = self.ballast_group()
            if not group:
                return None
            (version,) = [v for v in group["versions"]
                          if v["version"] == "v1beta1"]
            return version if version.get("freshness") == "Current" else None
        # The aggregator fetched ballast's discovery when the APIService
        # became available; a Stale entry is retried once a minute only.
        version = wait_until("external.metrics.k8s.io/v1beta1 Current",
                             current, 15)
        self.assertEqual(sorted(r["resource"] for r in version["resources"]),
                         METRICS)
        for resource in version["resources"]:
            self.assertEqual(resource["scope"], "Namespaced")
            self.assertEqual(resource["responseKind"]["kind"],
                             "ExternalMetricValueList")
            self.assertIn("get", resource["verbs"])

    def test_2_kubectl_api_versions_and_api_resources_list_ballast(self):
        versions = self.cp.kubectl("api-versions").stdout.split()
        self.assertIn(GROUP_VERSION, versions)
        out = self.cp.kubectl("api-resources",
                              "--api-group=external.metrics.k8s.io",
                              "-o", "name").stdout.split()
        self.assertEqual(sorted(out), [m + ".external.metrics.k8s.io"
                                       for m in METRICS])
        wide = self.cp.kubectl("api-resources",
                               "--api-group=external.metrics.k8s.io").stdout
        self.assertRegex(wide, r"ballast_recommended_replicas\s+" +
                         re.escape(GROUP_VERSION) +
                         r"\s+true\s+ExternalMetricValueList")

    def test_3_openapi_v3_and_v2_through_the_aggregator(self):
        def listed():
            status, _, body = self.apiserver_get("/openapi/v3")
            paths = json.loads(body)["paths"] if status == 200 else {}
            return paths.get("apis/" + GROUP_VERSION)
        item = wait_until("/openapi/v3 lists " + GROUP_VERSION, listed, 30)
        url = item["serverRelativeURL"]
        self.assertRegex(url, r"^/openapi/v3/apis/external\.metrics\.k8s\.io/"
                              r"v1beta1\?hash=[0-9A-F]+$")
        status, headers, body = self.apiserver_get(url, "application/json")
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers["Content-Type"], "application/json")
        spec = json.loads(body)
        self.assertTrue(spec["openapi"].startswith("3."))
        model = ("io.k8s.metrics.pkg.apis.external_metrics.v1beta1."
                 "ExternalMetricValueList")
        self.assertEqual(
            spec["components"]["schemas"][model]
            ["x-kubernetes-group-version-kind"],
            [{"group": "external.metrics.k8s.io",
              "kind": "ExternalMetricValueList", "version": "v1beta1"}])
        # kubectl explain reads that document through the aggregator. With
        # a cache of its own: the setup's kubectl apply cached an OpenAPI v3
        # root from before ballast was registered (1.37's kubectl keeps it).
        cache = tempfile.mkdtemp(dir=self.tmp, prefix="kubectl-cache-")
        explain = self.cp.kubectl("explain", "ballast_recommended_replicas",
                                  "--api-version=" + GROUP_VERSION,
                                  "--cache-dir=" + cache).stdout
        self.assertIn("KIND:       ExternalMetricValueList", explain)
        self.assertIn("items", explain)
        items = self.cp.kubectl(
            "explain", "ballast_recommended_replicas.items",
            "--api-version=" + GROUP_VERSION, "--cache-dir=" + cache).stdout
        for field in ("metricName", "metricLabels", "timestamp", "value"):
            self.assertIn(field, items)

        # The v2 document the API server serves has merged ballast's.
        def merged():
            status, _, body = self.apiserver_get("/openapi/v2",
                                                 "application/json")
            return status == 200 and model in json.loads(body)["definitions"]
        wait_until("ballast's definitions in /openapi/v2", merged, 30)

    def test_4_each_control_plane_identity_gets_the_api_servers_answer(self):
        self.cp.kubectl("create", "clusterrolebinding", "frank-reads-metrics",
                        "--clusterrole=ballast:external-metrics-reader",
                        "--user=frank")
        # The binding in effect (the API server's RBAC cache follows it).
        review = json.dumps({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {"user": "frank", "groups": ["system:authenticated"],
                     "resourceAttributes": {
                         "namespace": "default", "verb": "list",
                         "group": "external.metrics.k8s.io",
                         "resource": "ballast_recommended_replicas"}}})
        wait_until("frank's binding in effect", lambda: json.loads(
            self.cp.kubectl("create", "-f", "-", "-o", "json",
                            input=review).stdout)["status"].get("allowed"),
                   10)
        hpa = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"
        # (user, the groups the front proxy would send but
        # system:authenticated, which ballast must add as the API server
        # does). The aggregator's own discovery and OpenAPI requests carry
        # no group at all.
        identities = [
            ("system:kube-aggregator", []),
            (hpa, ["system:serviceaccounts", "system:serviceaccounts:kube-system"]),
            ("system:kube-controller-manager", []),
            ("erin", []),   # no RBAC
            ("frank", []),  # bound to ballast:external-metrics-reader
        ]
        answers = {}
        for user, groups in identities:
            for what, path, can_i_args in (
                    ("discovery", DISCOVERY_PATH, ["get", DISCOVERY_PATH]),
                    ("metric", METRIC_PATH,
                     ["list", "ballast_recommended_replicas."
                      "external.metrics.k8s.io", "-n", "default"])):
                want = self.can_i(*can_i_args, "--as=" + user)
                status, body = wait_until(
                    "ballast's answer to %s" % user,
                    lambda: (lambda r: r if r[0] in (200, 403) else None)(
                        self.ballast_answer(path, user, groups)), 10)
                with self.subTest(user=user, request=what):
                    self.assertEqual(status == 200, want,
                                     "kubectl auth can-i says %s; ballast "
                                     "answered %d: %s" % (
                                         "yes" if want else "no", status,
                                         body[:300]))
                answers[(user, what)] = want
        # Not vacuous: the aggregator may read discovery, the HPA the
        # metric, erin not; frank may with his binding.
        self.assertTrue(answers[("system:kube-aggregator", "discovery")])
        self.assertTrue(answers[(hpa, "metric")])
        self.assertFalse(answers[("erin", "metric")])
        self.assertTrue(answers[("frank", "metric")])

    def test_5_a_denial_is_logged_once_per_identity(self):
        before = self.ballast.counter(
            "ballast_external_metrics_authorizations_total", result="denied")
        user = "gina-%d" % time.time_ns()
        for _ in range(3):
            status, _ = self.ballast_answer(METRIC_PATH, user, [])
            self.assertEqual(status, 403)
        # Another identity: the same user in another group.
        status, _ = self.ballast_answer(METRIC_PATH, user, ["testers"])
        self.assertEqual(status, 403)
        self.assertEqual(self.ballast.counter(
            "ballast_external_metrics_authorizations_total",
            result="denied") - before, 4)
        lines = [json.loads(line) for line in self.log_lines(user)]
        self.assertEqual(len(lines), 2, lines)
        first, second = lines
        self.assertEqual(first["level"], "warn")
        self.assertEqual(first["verb"], "list")
        self.assertEqual(first["path"], METRIC_PATH.split("?")[0])
        self.assertEqual(first["groups"], "system:authenticated")
        self.assertIn("cannot list resource", first["reason"])
        self.assertEqual(second["groups"], "testers,system:authenticated")

    def test_6_the_hpa_reads_ballast_without_errors(self):
        def active():
            hpa = json.loads(self.cp.kubectl(
                "get", "hpa", "asr-worker", "-n", "speech", "-o",
                "json").stdout)
            status = hpa.get("status", {})
            conds = {c["type"]: c for c in status.get("conditions", [])}
            return (conds.get("ScalingActive", {}).get("status") == "True"
                    and status.get("currentMetrics") and status)
        status = wait_until("the HPA ScalingActive", active, 60)
        metric = status["currentMetrics"][0]["external"]
        self.assertEqual(metric["metric"]["name"],
                         "ballast_recommended_replicas")
        self.assertEqual(metric["current"]["averageValue"], "1")

    def test_9_steady_state_logs_no_error_about_ballast(self):
        # Past a full resync of discovery and both OpenAPI documents.
        remaining = RESYNC_SECONDS + 10 - (time.monotonic() - self.registered)
        if remaining > 0:
            time.sleep(remaining)
        # Each check on its own, so that all of what fails is told.
        with self.subTest("kube-apiserver's log"):
            about_ballast = re.compile(
                r"external\.metrics\.k8s\.io|autoscaling/ballast|"
                r"failed to download|failed to retrieve openAPI spec|"
                r"could not get list of group versions")
            apiserver = [text for sev, text in klog_records(
                self.cp.logs["kube-apiserver"]) if about_ballast.search(text)]
            self.assertEqual(apiserver, [], "kube-apiserver logged about "
                             "ballast:\n" + "".join(apiserver[:10]))
        with self.subTest("kube-controller-manager's log"):
            # The HPA controller's errors about external metrics. (Not every
            # line naming "ballast": 1.37's replicaset controller logs races
            # of its own about k8s/ballast.yaml's Deployment, whose pods no
            # kubelet runs here.)
            manager = [text for sev, text in klog_records(
                self.cp.logs["kube-controller-manager"])
                if re.search(r"external\.metrics|external metric|"
                             r"FailedGetExternalMetric|FailedComputeMetrics|"
                             r"horizontal|podautoscaler|hpa", text, re.I)]
            self.assertEqual(manager, [], "kube-controller-manager logged:\n"
                             + "".join(manager[:10]))
        with self.subTest("the HPA's events"):
            events = json.loads(self.cp.kubectl(
                "get", "events", "-n", "speech", "-o", "json").stdout)["items"]
            warnings = [(e["reason"], e["message"]) for e in events
                        if e["type"] != "Normal"]
            self.assertEqual(warnings, [])
        with self.subTest("ballast's log"):
            self.assertEqual(self.log_lines('"level":"error"'), [])
        with self.subTest("the aggregator revalidates with ballast's ETags"):
            for kind in ("discovery", "openapi"):
                self.assertGreater(self.ballast.counter(
                    "ballast_external_metrics_requests_total", code="304",
                    path_kind=kind), 0, kind)


if __name__ == "__main__":
    ballast_in_cluster.run_tests(sys.modules[__name__])
