"""Scale to zero in a real control plane: `minReplicas: 0` end to end.

One `ballast serve` (a target with minReplicas 0 and a Celery backlog input
with `activation: 2`), a real redis-server as the broker, and the real HPA
(minReplicas 0) reading ballast through the aggregator:
1. The backlog empties: ballast recommends 0 once its scale-down window
   ends, serves 0, and the HPA scales the Deployment to 0.
2. A backlog of 2 (not above the activation) keeps it at 0.
3. A backlog of 30 arrives: ballast recommends 3 from 0 replicas and the
   HPA scales the Deployment from 0 to 3.

HPAScaleToZero (the API server's validation of minReplicas 0) is beta and
on by default from Kubernetes 1.37; before that it is alpha and the test
turns it on (--feature-gates on both servers).
"""

import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ballast_in_cluster  # noqa: E402
import cluster_test  # noqa: E402
import control_plane  # noqa: E402

wait_until = cluster_test.wait_until
WINDOW = 6
ARGS = None  # set by ballast_in_cluster.run_tests()
METRIC_PATH = ("/apis/external.metrics.k8s.io/v1beta1/namespaces/speech/"
               "ballast_recommended_replicas?labelSelector=target%3Dtts-worker")


class ScaleToZeroTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ballast-zero-test-")
        cp = ballast_in_cluster.new_control_plane(ARGS.kubernetes,
                                                  hpa_sync_period=1)
        major, minor = control_plane.minor_of(cp.version).split(".")
        if (int(major), int(minor)) < (1, 37):
            gate = "--feature-gates=HPAScaleToZero=true"
            cp.extra_apiserver_args.append(gate)
            cp.extra_controller_manager_args.append(gate)
        cls.cp = cp.start()
        cls.ballast = None
        try:
            cls.redis, cls.redis_port, cls.r = ballast_in_cluster.start_redis(
                wait_until)
            cls._deploy()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _deploy(cls):
        cp = cls.cp
        https = control_plane.free_port()
        deployed = ballast_in_cluster.register(cp, https, cls.tmp)
        telemetry = control_plane.free_port()
        config = os.path.join(cls.tmp, "ballast.yaml")
        with open(config, "w") as f:
            f.write(ballast_in_cluster.serve_config(
                deployed.kubeconfig, cls.redis_port, https, deployed.serving,
                control_plane.free_port(), telemetry,
                "allowedTtlSeconds: 10, deniedTtlSeconds: 2", """\
  - name: tts-worker
    minReplicas: 0
    maxReplicas: 10
    currentReplicas: {kubernetes: {namespace: speech, deployment: tts-worker}}
    inputs:
      - {name: backlog, celery: {source: celery, queues: [tts]},
         averageValue: 10, activation: 2}
    behavior:
      scaleDown: {stabilizationWindowSeconds: %d}
""" % WINDOW))
        cls.set_backlog(20)
        cls.ballast = cluster_test.Ballast(
            ARGS.ballast, config, os.path.join(cls.tmp, "ballast.log"),
            telemetry)
        cls.ballast.start()
        ballast_in_cluster.wait_until_served(cp, wait_until)
        ballast_in_cluster.create_deployment(cp, "speech", "tts-worker",
                                             replicas=2)
        cp.apply(ballast_in_cluster.hpa_manifest(cp, "tts-worker", "speech",
                                                 0, 10))

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.ballast and cls.ballast.proc and \
                    cls.ballast.proc.poll() is None:
                cls.ballast.stop()
        finally:
            ballast_in_cluster.stop_redis(getattr(cls, "redis", None))
            cls.cp.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def set_backlog(cls, n):
        ballast_in_cluster.set_backlog(cls.r, "tts", n)

    def served(self):
        return ballast_in_cluster.served(self.cp, METRIC_PATH)

    def hpa(self):
        return json.loads(self.cp.kubectl(
            "get", "hpa", "tts-worker", "-n", "speech", "-o", "json").stdout)

    def spec_replicas(self):
        return ballast_in_cluster.spec_replicas(self.cp, "speech",
                                                "tts-worker")

    def diagnose(self):
        return "%s\nHPA: %s\n%s" % (
            self.ballast.log_tail(30), json.dumps(self.hpa()["status"]),
            self.cp.kubectl("get", "events", "-n", "speech",
                            check=False).stdout)

    def test_to_zero_and_back(self):
        # The HPA accepted minReplicas 0 (the API server validates it).
        self.assertEqual(self.hpa()["spec"]["minReplicas"], 0)
        try:
            wait_until("HPA at 2", lambda: self.spec_replicas() == 2, 30)
            # 1. Idle: 0 after the window, served and applied.
            self.set_backlog(0)
            emptied = time.monotonic()
            wait_until("served 0", lambda: self.served() == 0, WINDOW + 15)
            self.assertGreaterEqual(time.monotonic() - emptied, WINDOW - 1)
            wait_until("the Deployment at 0",
                       lambda: self.spec_replicas() == 0, 30)
            self.assertEqual(self.ballast.counter(
                "ballast_recommended_replicas", target="tts-worker"), 0)
            # 2. A backlog of 2 is not above the activation: still 0.
            self.set_backlog(2)
            for _ in range(8):
                time.sleep(0.5)
                self.assertEqual(self.served(), 0)
                self.assertEqual(self.spec_replicas(), 0)
            # 3. Work arrives: from 0 to ceil(30 / 10) = 3.
            self.set_backlog(30)
            wait_until("served 3", lambda: self.served() == 3, 15)
            wait_until("the Deployment at 3",
                       lambda: self.spec_replicas() == 3, 30)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.diagnose()))
        conditions = {c["type"]: c for c in self.hpa()["status"]["conditions"]}
        self.assertEqual(conditions["ScalingActive"]["status"], "True",
                         conditions)


if __name__ == "__main__":
    ballast_in_cluster.run_tests(sys.modules[__name__])
