"""A wrong caBundle in ballast's APIService, on each Kubernetes version.

kube-aggregator's availability controller (pkg/controllers/status/remote/
remote_available_controller.go) checks an APIService by a GET of
/apis/<group>/<version> on its Service. Up to v1.35 that GET skips TLS
verification (Insecure: true; k8s.io/kube-aggregator v0.35.4), so with a
caBundle that did not sign ballast's certificate the APIService stays
Available=True while the proxy, which does verify, answers every request with
503. From v1.36.0 the check verifies against the caBundle
(BuildTransportConfig, CAData: spec.caBundle) and the APIService goes
Available=False with the x509 error; the tests run v1.35 and v1.37.

One control plane (--kubernetes MINOR, as cluster_test.py), one redis-server
and one `ballast serve` registered with k8s/ballast.yaml, all on 127.0.0.1;
scripts/check-external-metrics, the check the README gives an SRE, must pass
with the right caBundle and fail with the wrong one on every version.

    /usr/bin/python3 tests/cluster/cabundle_test.py --ballast build/ballast [--kubernetes 1.37]
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ballast_in_cluster  # noqa: E402
import control_plane  # noqa: E402
from cluster_test import Ballast, wait_until  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHECK = os.path.join(REPO, "scripts", "check-external-metrics")
APISERVICE = ballast_in_cluster.APISERVICE
METRIC_PATH = ("/apis/external.metrics.k8s.io/v1beta1/namespaces/speech/"
               "ballast_recommended_replicas?labelSelector=target%3Dasr-worker")
# How long the wrong caBundle is watched on a version that keeps it
# Available: several of the availability controller's checks (it re-checks
# an APIService on every change and every 30 s of resync).
HOLD_SECONDS = 35

ARGS = None  # set by ballast_in_cluster.run_tests()


class CaBundleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ballast-cabundle-test-")
        cls.cp = ballast_in_cluster.new_control_plane(
            ARGS.kubernetes, controllers=("serviceaccount",)).start()
        cls.verifies_cabundle = tuple(
            int(x) for x in control_plane.minor_of(cls.cp.version).split(".")) >= (1, 36)
        cls.redis = None
        cls.ballast = None
        try:
            cls.redis, redis_port, cls.r = ballast_in_cluster.start_redis(wait_until)
            https_port = control_plane.free_port()
            telemetry_port = control_plane.free_port()
            deployed = ballast_in_cluster.register(cls.cp, https_port, cls.tmp)
            cls.right_ca = control_plane.read_b64(deployed.serving["ca"])
            # Another CA, for the same names: what a caBundle copied from the
            # wrong file (or an old certificate) holds.
            other = control_plane.make_serving_cert(
                os.path.join(cls.tmp, "other"),
                dns_names=["ballast.autoscaling.svc"])
            cls.wrong_ca = control_plane.read_b64(other["ca"])
            ballast_in_cluster.create_deployment(cls.cp, "speech", "asr-worker", 2)
            config = os.path.join(cls.tmp, "ballast.yaml")
            with open(config, "w") as f:
                f.write(ballast_in_cluster.serve_config(
                    deployed.kubeconfig, redis_port, https_port, deployed.serving,
                    control_plane.free_port(), telemetry_port,
                    "allowedTtlSeconds: 2, deniedTtlSeconds: 2", """\
  - name: asr-worker
    minReplicas: 2
    maxReplicas: 40
    currentReplicas: {kubernetes: {namespace: speech, deployment: asr-worker}}
    inputs:
      - {name: backlog, celery: {source: celery, queues: [asr]}, averageValue: 10}
"""))
            cls.ballast = Ballast(ARGS.ballast, config,
                                  os.path.join(cls.tmp, "ballast.log"), telemetry_port)
            cls.ballast.start()
            # ceil(35 / 10) = 4.
            cls.r.lpush("asr", *["task-%d" % i for i in range(35)])
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.ballast:
                cls.ballast.stop()
        finally:
            ballast_in_cluster.stop_redis(cls.redis)
            cls.cp.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- helpers -------------------------------------------------------------

    def available(self):
        """The APIService's Available condition (a dict; {} if none yet)."""
        out = self.cp.kubectl("get", "apiservice", APISERVICE, "-o", "json").stdout
        for c in json.loads(out).get("status", {}).get("conditions", []):
            if c["type"] == "Available":
                return c
        return {}

    def set_cabundle(self, ca):
        self.cp.kubectl("patch", "apiservice", APISERVICE, "--type=merge", "-p",
                        json.dumps({"spec": {"caBundle": ca}}))

    def get_raw(self):
        """kubectl get --raw of ballast's value through the aggregator."""
        return self.cp.kubectl("get", "--raw", METRIC_PATH, check=False)

    def check(self):
        """scripts/check-external-metrics asr-worker speech, with the
        control plane's kubectl and admin kubeconfig."""
        env = dict(os.environ, KUBECTL=os.path.join(self.cp.bin_dir, "kubectl"),
                   KUBECONFIG=self.cp.kubeconfig, KUBERC="off")
        return subprocess.run([CHECK, "asr-worker", "speech"], env=env,
                              capture_output=True, text=True, timeout=120)

    def assert_check_passes(self):
        proc = wait_until("the check to pass", lambda: (
            lambda p: p if p.returncode == 0 else None)(self.check()), 60)
        self.assertIn("ok: APIService %s Available=True (Passed)" % APISERVICE,
                      proc.stdout)
        self.assertIn("ok: ballast_recommended_replicas{target=asr-worker} = 4",
                      proc.stdout)
        print("%s, right caBundle: check-external-metrics:\n%s" % (
            self.cp.version, proc.stdout), file=sys.stderr)

    # -- tests ---------------------------------------------------------------

    def test_1_the_right_cabundle_passes_the_check(self):
        self.set_cabundle(self.right_ca)
        cond = wait_until("Available=True", lambda: (
            lambda c: c if c.get("status") == "True" else None)(self.available()), 60)
        self.assertEqual(cond["reason"], "Passed")
        # ballast recommends 4 once it has polled the backlog.
        items = wait_until("4 through the aggregator", lambda: (
            lambda p: p.returncode == 0 and [
                i for i in json.loads(p.stdout)["items"] if i["value"] == "4"])(
                    self.get_raw()), 30)
        self.assertEqual(len(items), 1, items)
        self.assertEqual(items[0]["metricLabels"], {"target": "asr-worker"})
        self.assert_check_passes()

    def handshake_failures(self):
        """ballast's failed TLS handshakes, by reason."""
        failures = {}
        for line in self.ballast.metrics().splitlines():
            m = re.match(r'^ballast_external_metrics_tls_handshake_failures_total'
                         r'\{reason="([^"]*)"\} (\S+)$', line)
            if m:
                failures[m.group(1)] = float(m.group(2))
        return failures

    def test_2_a_wrong_cabundle_fails_every_request_and_the_check(self):
        failures_before = self.handshake_failures()
        self.set_cabundle(self.wrong_ca)
        try:
            # The proxy verifies against the new caBundle: every request for
            # the value is a 503 from the API server, on every version.
            proc = wait_until("a failing request", lambda: (
                lambda p: p if p.returncode != 0 else None)(self.get_raw()), 30)
            self.assertIn("ServiceUnavailable", proc.stderr + proc.stdout)
            print("%s, wrong caBundle: kubectl get --raw %s:\n  %s" % (
                self.cp.version, METRIC_PATH, proc.stderr.strip()), file=sys.stderr)
            if self.verifies_cabundle:
                cond = wait_until("Available=False", lambda: (
                    lambda c: c if c.get("status") == "False" else None)(
                        self.available()), 60)
                self.assertEqual(cond["reason"], "FailedDiscoveryCheck", cond)
                self.assertIn("x509", cond["message"])
            else:
                # Available=True, check after check, while nothing gets through.
                deadline = time.monotonic() + HOLD_SECONDS
                while time.monotonic() < deadline:
                    cond = self.available()
                    self.assertEqual((cond.get("status"), cond.get("reason")),
                                     ("True", "Passed"), cond)
                    proc = self.get_raw()
                    self.assertNotEqual(proc.returncode, 0, proc.stdout)
                    self.assertIn("ServiceUnavailable", proc.stderr + proc.stdout)
                    time.sleep(2)
            print("%s, wrong caBundle: APIService Available=%s (%s) %s" % (
                self.cp.version, cond["status"], cond["reason"],
                cond.get("message", "")), file=sys.stderr)
            # The API server reached ballast and refused its certificate:
            # ballast counts the handshakes the API server broke off.
            failures = self.handshake_failures()
            grown = {reason: n - failures_before.get(reason, 0)
                     for reason, n in failures.items()
                     if n > failures_before.get(reason, 0)}
            self.assertTrue(grown, failures)
            print("%s, wrong caBundle: ballast's failed TLS handshakes %s" % (
                self.cp.version, grown), file=sys.stderr)
            # The README's check fails either way, and says why.
            proc = self.check()
            print("%s, wrong caBundle: check-external-metrics exit %d:\n%s%s" % (
                self.cp.version, proc.returncode, proc.stdout, proc.stderr),
                file=sys.stderr)
            self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
            self.assertNotIn("ok: ballast_recommended_replicas", proc.stdout)
            if self.verifies_cabundle:
                self.assertIn("FAIL: APIService %s is Available=False "
                              "(FailedDiscoveryCheck)" % APISERVICE, proc.stderr)
                self.assertIn("x509", proc.stderr)
            else:
                self.assertIn("ok: APIService %s Available=True" % APISERVICE,
                              proc.stdout)
                self.assertIn("FAIL: GET /apis/external.metrics.k8s.io/v1beta1 "
                              "through the API server", proc.stderr)
            self.assertIn("check that the APIService's caBundle is the CA",
                          proc.stderr)
        finally:
            self.set_cabundle(self.right_ca)
        # Put right, the check passes again.
        self.assert_check_passes()


if __name__ == "__main__":
    ballast_in_cluster.run_tests(sys.modules[__name__])
