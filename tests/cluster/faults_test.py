"""Issue 12, the fault matrix, Kubernetes API part.

One real control plane (etcd, kube-apiserver; control_plane.py) and one
redis-server for the suite, all on 127.0.0.1. k8s/ballast.yaml is applied
(ballast_in_cluster.register), and each test starts its own `ballast serve`
with the `ballast` ServiceAccount's token (a kubeconfig `tokenFile`) and:

- target asr-worker: currentReplicas from the scale subresource of the
  Deployment speech/asr-worker (spec.replicas 3), one Celery input (a
  backlog of 35, averageValue 10: ballast recommends 4);
- the external metrics API with authentication mode Cluster (the front-proxy
  trust from kube-system/extension-apiserver-authentication, re-read every
  second) and authorization mode Delegated (SubjectAccessReviews, allowed
  answers cached ALLOWED_TTL seconds, a review timing out after 1 s).

Then one fault of the API server at a time, as ballast sees it:

1. down: kube-apiserver SIGKILLed, restarted on its port (same etcd, PKI);
2. slow: a TCP proxy between ballast and the API server (TLS passes through
   untouched; the API server's certificate has 127.0.0.1 in its SANs) holds
   every chunk SLOW_DELAY seconds, past ballast's 5 s client timeout;
3. 401: ballast's token file replaced by a token the API server rejects;
4. 403: ballast's ClusterRoleBinding and kube-system RoleBinding deleted.

While it lasts: ballast's process stays up and /healthz answers every probe
(a watcher thread, 2 s limit); the scale reader holds the last good count (3)
with a growing ballast_current_replicas_age_seconds, the recommendation (4)
is unchanged, the failure is counted in ballast_source_errors_total
{kind="kubernetes",error=KIND} and logged with that kind; the front-proxy
trust read failures are counted and logged while the previous trust keeps
authenticating; the external metrics API answers the last good value to a
system:masters user (never reviewed) and to a user whose allowed review is
still cached (within allowedTtlSeconds), and fails closed (503, "authorization
failed (denying)") for a review it cannot get, including that same user once
the cache entry has expired; KEDA's GetMetrics (gRPC) answers 4 throughout. Where the API server stays up, the Deployment is
scaled to 5 meanwhile. After the fault ends, the time to ballast's first good
scale read (the new count, age reset), to the first allowed review and to the
first good trust read is printed as "recovery k8s-NAME: N s" (for bench/
README.md; only a 90 s bound is asserted).

Run by ctest (label `faults`):
    /usr/bin/python3 tests/cluster/faults_test.py --ballast build/ballast
The control plane's binaries come from $BALLAST_CLUSTER_BIN, else from
scripts/lib.sh's ballast_cluster_binaries.
"""

import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ballast_in_cluster  # noqa: E402
import control_plane  # noqa: E402
from cluster_test import Ballast, wait_until  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

METRIC_PATH = ("/apis/external.metrics.k8s.io/v1beta1/namespaces/default/"
               "ballast_recommended_replicas?labelSelector=target%3Dasr-worker")
TARGET = "asr-worker"
NAMESPACE = "speech"
BACKLOG = 35          # / averageValue 10: ballast recommends 4
RECOMMENDED = 4
REPLICAS = 3          # the Deployment's spec.replicas before each fault
SCALED = 5            # ... and during the faults the API server survives
ALLOWED_TTL = 8       # authorization.allowedTtlSeconds
SAR_TIMEOUT_MS = 1000  # authorization.timeoutMs
SLOW_DELAY = 6.5      # seconds each proxied chunk is held: past the 5 s timeout
BAD_TOKEN = "not-a-token-the-api-server-issued"

ARGS = None  # set by ballast_in_cluster.run_tests()


def series(text, name, **labels):
    """The sum of the samples of `name` whose labels include `labels`, or
    None when there is no such series."""
    total = None
    for line in text.splitlines():
        m = re.match(r'^%s(?:\{([^}]*)\})? (\S+)$' % re.escape(name), line)
        if not m:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total = (total or 0.0) + float(m.group(2))
    return total


class SlowProxy:
    """A TCP proxy on 127.0.0.1 to the API server's port. Bytes pass
    untouched (ballast's TLS session is with the API server); while `delay`
    is set, every chunk is held that many seconds before it is forwarded."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.delay = 0.0
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self._listener.close()
        with self._lock:
            for s in list(self._sockets):
                s.close()

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(
                    ("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst),
                                 daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.delay:
                    time.sleep(self.delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
                with self._lock:
                    self._sockets.discard(s)


class HealthWatcher:
    """Probes ballast's /healthz every 0.2 s (2 s limit) in a thread and
    records every probe that failed or took 1 s or more."""

    def __init__(self, port):
        self.port = port
        self.failures = []
        self.probes = 0
        self.slowest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(0.2):
            started = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                  timeout=2)
                try:
                    conn.request("GET", "/healthz")
                    status = conn.getresponse().status
                finally:
                    conn.close()
            except OSError as e:
                status = repr(e)
            took = time.monotonic() - started
            self.probes += 1
            self.slowest = max(self.slowest, took)
            if status != 200 or took >= 1:
                self.failures.append((time.strftime("%H:%M:%S"), status,
                                      round(took, 3)))


class KubernetesFaultsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ballast-faults-test-")
        # No HPA here: the serviceaccount controller alone (the control
        # plane's readiness waits for the default ServiceAccount).
        cls.cp = ballast_in_cluster.new_control_plane(
            ARGS.kubernetes, controllers=("serviceaccount",)).start()
        try:
            cls._setup()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "proxy", None):
            cls.proxy.close()
        ballast_in_cluster.stop_redis(getattr(cls, "redis", None))
        cls.cp.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def _setup(cls):
        cp = cls.cp
        cls.redis, cls.redis_port, r = ballast_in_cluster.start_redis(
            wait_until)
        r.lpush("asr", *["task-%d" % i for i in range(BACKLOG)])

        cls.https_port = control_plane.free_port()
        cls.telemetry_port = control_plane.free_port()
        cls.grpc_port = control_plane.free_port()
        deployed = ballast_in_cluster.register(cp, cls.https_port, cls.tmp)
        cls.serving = deployed.serving
        with open(deployed.kubeconfig) as f:
            cls.token = json.load(f)["users"][0]["user"]["token"]
        cls.token_file = os.path.join(cls.tmp, "token")
        cls._write_token(cls.token)
        cls.proxy = SlowProxy(cp.ports["apiserver"])
        cls.kubeconfigs = {
            "direct": cls._kubeconfig("direct", cp.server),
            "proxied": cls._kubeconfig(
                "proxied", "https://127.0.0.1:%d" % cls.proxy.port),
        }
        ballast_in_cluster.create_deployment(cp, NAMESPACE, TARGET, REPLICAS)
        # Members of metrics-readers may read the metrics: a user of that
        # group with a new name has no review cached yet.
        cp.kubectl("create", "clusterrolebinding", "readers-read-metrics",
                   "--clusterrole=ballast:external-metrics-reader",
                   "--group=metrics-readers")
        cls.front_proxy = cp.make_client_cert(cn="front-proxy-client")
        cls.keda = cls._keda_stubs()

    @classmethod
    def _keda_stubs(cls):
        """KEDA's externalscaler client, generated from proto/ with protoc
        and Debian's grpc_python_plugin."""
        out = os.path.join(cls.tmp, "keda")
        os.makedirs(out)
        proto = os.path.join(REPO, "proto", "externalscaler")
        subprocess.run(["protoc", "--python_out=" + out, "--grpc_out=" + out,
                        "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
                        "-I", proto,
                        os.path.join(proto, "externalscaler.proto")],
                       check=True, capture_output=True)
        sys.path.insert(0, out)
        import externalscaler_pb2
        import externalscaler_pb2_grpc
        return externalscaler_pb2, externalscaler_pb2_grpc

    @classmethod
    def _write_token(cls, token):
        # Replaced as a kubelet replaces a projected token: a rename.
        tmp = cls.token_file + ".new"
        with open(tmp, "w") as f:
            f.write(token + "\n")
        os.chmod(tmp, 0o600)
        os.rename(tmp, cls.token_file)

    @classmethod
    def _kubeconfig(cls, name, server):
        path = os.path.join(cls.tmp, name + ".kubeconfig")
        with open(path, "w") as f:
            json.dump({
                "apiVersion": "v1", "kind": "Config",
                "clusters": [{"name": "test", "cluster": {
                    "server": server,
                    "certificate-authority": cls.cp.pki["ca"]}}],
                "users": [{"name": "ballast",
                           "user": {"tokenFile": cls.token_file}}],
                "contexts": [{"name": "ballast", "context": {
                    "cluster": "test", "user": "ballast"}}],
                "current-context": "ballast"}, f)
        os.chmod(path, 0o600)
        return path

    # -- per test ------------------------------------------------------------

    def setUp(self):
        self.ballast = None
        self.health = None
        self.cp.kubectl("scale", "deployment", TARGET, "-n", NAMESPACE,
                        "--replicas=%d" % REPLICAS)

    def tearDown(self):
        try:
            if self.health:
                self.health.stop()
            if self.ballast:
                self.ballast.stop()  # raises unless it exits 0 on SIGTERM
        finally:
            self.proxy.delay = 0
            self._write_token(self.token)
            self.cp.start_apiserver()  # when a test left it stopped

    def start_ballast(self, kubeconfig):
        name = self.id().rsplit(".", 1)[-1]
        config_path = os.path.join(self.tmp, name + ".yaml")
        with open(config_path, "w") as f:
            f.write(ballast_in_cluster.serve_config(
                self.kubeconfigs[kubeconfig], self.redis_port, self.https_port,
                self.serving, self.grpc_port, self.telemetry_port,
                "allowedTtlSeconds: %d, deniedTtlSeconds: 2, timeoutMs: %d" %
                (ALLOWED_TTL, SAR_TIMEOUT_MS), """\
  - name: %(target)s
    minReplicas: 1
    maxReplicas: 40
    currentReplicas: {kubernetes: {namespace: %(ns)s, deployment: %(target)s}}
    inputs:
      - {name: backlog, celery: {source: celery, queues: [asr]}, averageValue: 10}
""" % {"target": TARGET, "ns": NAMESPACE}))
        self.ballast = Ballast(ARGS.ballast, config_path,
                               os.path.join(self.tmp, name + ".log"),
                               self.telemetry_port)
        self.ballast.start()
        self.health = HealthWatcher(self.telemetry_port)
        self.reader = "carol-%d" % time.time_ns()
        # The last good values: 3 read from the scale subresource, 4
        # recommended, 4 served to a reviewed user.
        wait_until("3 current replicas read, 4 recommended", lambda: (
            self.sample("ballast_current_replicas") == REPLICAS and
            self.sample("ballast_recommended_replicas") == RECOMMENDED and
            (self.sample("ballast_current_replicas_age_seconds") or 99) < 1),
            30)
        wait_until("4 served to a reader", lambda: self.served(
            "reader-%d" % time.time_ns(), ["metrics-readers"]) ==
            (200, RECOMMENDED), 30)

    # -- helpers -------------------------------------------------------------

    def sample(self, name, **labels):
        if "target" not in labels and not name.startswith(
                ("ballast_source_", "ballast_front_proxy_",
                 "ballast_external_metrics_")):
            labels["target"] = TARGET
        return series(self.ballast.metrics(), name, **labels)

    def errors(self, kind):
        return self.sample("ballast_source_errors_total", kind="kubernetes",
                           error=kind) or 0

    def ballast_get(self, user, groups=()):
        """GET METRIC_PATH straight from ballast as the front proxy with
        `user`: (status, body, seconds taken)."""
        ctx = ssl.create_default_context(cafile=self.serving["ca"])
        ctx.load_cert_chain(*self.front_proxy)
        conn = http.client.HTTPSConnection("127.0.0.1", self.https_port,
                                           context=ctx, timeout=10)
        headers = {"X-Remote-User": user}
        if groups:
            headers["X-Remote-Group"] = ",".join(groups)
        started = time.monotonic()
        try:
            conn.request("GET", METRIC_PATH, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode(), \
                time.monotonic() - started
        finally:
            conn.close()

    def served(self, user, groups=()):
        """(status, value) of the recommendation as served to user."""
        status, body, _ = self.ballast_get(user, groups)
        if status != 200:
            return status, body
        items = json.loads(body)["items"]
        self.assertEqual(len(items), 1, body)
        return status, int(items[0]["value"])

    def keda_value(self):
        """The recommendation as KEDA's GetMetrics answers it (2 s limit)."""
        import grpc
        pb2, pb2_grpc = self.keda
        with grpc.insecure_channel("127.0.0.1:%d" % self.grpc_port) as channel:
            response = pb2_grpc.ExternalScalerStub(channel).GetMetrics(
                pb2.GetMetricsRequest(scaledObjectRef=pb2.ScaledObjectRef(
                    name=TARGET, namespace=NAMESPACE,
                    scalerMetadata={"target": TARGET})), timeout=2)
        (value,) = response.metricValues
        return value.metricValue

    def log_entries(self, msg):
        entries = []
        with open(self.ballast.log_path, errors="replace") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("msg") == msg:
                    entries.append(entry)
        return entries

    def assert_alive(self):
        self.assertIsNone(self.ballast.proc.poll(), self.ballast.log_tail())
        self.assertEqual(self.health.failures, [], "/healthz failed or hung")

    # -- the matrix ----------------------------------------------------------

    def run_fault(self, name, kind, start, end, scale_during, scale_error,
                  sar_error, trust_error):
        """Puts the fault on with start(), checks everything above while it
        lasts, ends it with end() (in a thread: it may block, as a restart
        does) and measures recovery. kind: the error label of the scale
        reads; scale_error, sar_error, trust_error: text of the scale read's
        log entry, of the 503 and of the trust failure's log entry."""
        errors_before = self.errors(kind)
        trust_failures_before = self.sample(
            "ballast_front_proxy_trust_reads_total", result="failure",
            error=kind) or 0
        sar_errors_before = self.sample(
            "ballast_external_metrics_authorizations_total",
            result="error") or 0
        cached_before = self.sample(
            "ballast_external_metrics_authorizations_total",
            result="allowed", cached="true") or 0
        # The reader's first review, allowed: cached for ALLOWED_TTL seconds
        # from its answer (between asked and answered).
        asked = time.monotonic()
        self.assertEqual(self.served(self.reader, ["metrics-readers"]),
                         (200, RECOMMENDED))
        answered = time.monotonic()
        self.assertEqual(self.sample(
            "ballast_external_metrics_authorizations_total",
            result="allowed", cached="true") or 0, cached_before)
        start()
        fault_at = time.monotonic()

        # Within allowedTtlSeconds the reader is served from the cache.
        status, body, _ = self.ballast_get(self.reader, ["metrics-readers"])
        self.assertLess(time.monotonic() - asked, ALLOWED_TTL,
                        "too slow to see the cached review")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["items"][0]["value"],
                         str(RECOMMENDED))
        self.assertGreater(self.sample(
            "ballast_external_metrics_authorizations_total",
            result="allowed", cached="true"), cached_before)

        # The scale reads fail with the kind; 3 is held, its age grows.
        wait_until("scale reads failing with %s" % kind,
                   lambda: self.errors(kind) > errors_before, 20, 0.2)
        wait_until("the held count 4 s old", lambda: (self.sample(
            "ballast_current_replicas_age_seconds") or 0) >= 4, 30, 0.2)
        if scale_during:
            # The API server still works for others: the Deployment moves
            # on, ballast cannot see it.
            self.cp.kubectl("scale", "deployment", TARGET, "-n", NAMESPACE,
                            "--replicas=%d" % SCALED)
            time.sleep(2)
        text = self.ballast.metrics()
        self.assertEqual(series(text, "ballast_current_replicas",
                                target=TARGET), REPLICAS, text)
        self.assertEqual(series(text, "ballast_recommended_replicas",
                                target=TARGET), RECOMMENDED, text)
        age = series(text, "ballast_current_replicas_age_seconds",
                     target=TARGET)
        self.assertGreaterEqual(age, 4, text)
        self.assertEqual(series(text, "ballast_input_value", target=TARGET,
                                input="backlog"), BACKLOG, text)
        held = [e for e in self.log_entries(
            "current replicas unreadable; holding the last good count")
            if e.get("kind") == kind]
        self.assertTrue(held, self.ballast.log_tail())
        self.assertEqual(held[-1]["replicas"], str(REPLICAS))
        self.assertIn(scale_error, held[-1]["error"])
        counted = {e: self.errors(e) for e in (
            "unavailable", "deadline_exceeded", "unauthenticated",
            "permission_denied", "data_loss") if self.errors(e)}
        backlog_age = series(text, "ballast_input_age_seconds",
                             target=TARGET, input="backlog")
        print("\n  %s: held %d, age %.1f s (the backlog's age %.1f s); "
              "errors %s; log: %s" % (name, REPLICAS, age, backlog_age,
                                      counted, held[-1]["error"]),
              file=sys.stderr)

        # The front-proxy trust cannot be read: counted, logged, and the
        # previous one still authenticates: a system:masters user (never
        # reviewed) gets the last good value.
        wait_until("a trust read failure counted as %s" % kind, lambda: (
            self.sample("ballast_front_proxy_trust_reads_total",
                        result="failure", error=kind) or 0)
            > trust_failures_before, 20, 0.2)
        trust_logged = self.log_entries("front-proxy trust not updated")
        self.assertTrue(trust_logged, self.ballast.log_tail())
        self.assertIn(trust_error, trust_logged[-1]["error"])
        self.assertEqual(self.served("root", ["system:masters"]),
                         (200, RECOMMENDED))
        # KEDA's gRPC answers the recommendation too (no API server involved).
        self.assertEqual(self.keda_value(), RECOMMENDED)

        # A review ballast cannot get fails closed, promptly.
        status, body, took = self.ballast_get("dave-%d" % time.time_ns())
        self.assertEqual(status, 503, body)
        doc = json.loads(body)
        self.assertEqual((doc["kind"], doc["code"]), ("Status", 503))
        self.assertIn("authorization failed (denying)", doc["message"])
        self.assertIn(sar_error, doc["message"])
        self.assertLess(took, SAR_TIMEOUT_MS / 1000 + 2)
        self.assertGreater(self.sample(
            "ballast_external_metrics_authorizations_total", result="error"),
            sar_errors_before)
        # So does the reader's once the cached review has expired.
        time.sleep(max(0.0, answered + ALLOWED_TTL + 0.5 - time.monotonic()))
        status, body, _ = self.ballast_get(self.reader, ["metrics-readers"])
        self.assertEqual(status, 503, body)
        self.assertIn("authorization failed (denying)", body)
        self.assert_alive()

        # The fault ends; the first good reads are timed from there by a
        # watcher thread while end() runs here (a restarted server must be
        # started from this thread: it dies with the thread that started it).
        want = SCALED if scale_during else REPLICAS
        trust_ok_before = sum(self.sample(
            "ballast_front_proxy_trust_reads_total", result=r) or 0
            for r in ("changed", "unchanged"))
        first = {}
        end_at = time.monotonic()

        def watch():
            while len(first) < 3 and time.monotonic() < end_at + 90:
                now = time.monotonic()
                text = self.ballast.metrics()
                if "scale" not in first and series(
                        text, "ballast_current_replicas",
                        target=TARGET) == want and (series(
                            text, "ballast_current_replicas_age_seconds",
                            target=TARGET) or 99) < 1:
                    first["scale"] = now - end_at
                if "trust" not in first and sum(series(
                        text, "ballast_front_proxy_trust_reads_total",
                        result=r) or 0 for r in ("changed", "unchanged")) > \
                        trust_ok_before:
                    first["trust"] = now - end_at
                if "authorization" not in first and \
                        self.ballast_get(self.reader,
                                         ["metrics-readers"])[0] == 200:
                    first["authorization"] = now - end_at
                time.sleep(0.1)
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            end()
        finally:
            ended = time.monotonic() - end_at
            watcher.join()
        self.assertEqual(sorted(first), ["authorization", "scale", "trust"],
                         "not recovered within 90 s: %s\n%s" % (
                             first, self.ballast.log_tail()))
        print("recovery k8s-%s: %.2f s (authorization %.2f s, trust %.2f s;"
              " fault held %.1f s, ending it took %.2f s)" % (
                  name, first["scale"], first["authorization"],
                  first["trust"], end_at - fault_at, ended), file=sys.stderr)
        self.assertEqual(self.served(self.reader, ["metrics-readers"]),
                         (200, RECOMMENDED))
        self.assertEqual(self.keda_value(), RECOMMENDED)
        self.assert_alive()
        return first

    def test_1_apiserver_down(self):
        self.start_ballast("direct")
        self.run_fault(
            "down", "unavailable",
            start=self.cp.stop_apiserver, end=self.cp.start_apiserver,
            scale_during=False, scale_error="Connection refused",
            sar_error="cannot ask the API server",
            trust_error="Connection refused")

    def test_2_apiserver_slow(self):
        self.start_ballast("proxied")

        def slow():
            self.proxy.delay = SLOW_DELAY

        def fast():
            self.proxy.delay = 0
        self.run_fault(
            "slow", "deadline_exceeded", start=slow, end=fast,
            # The scale read (5 s timeout) is slower than the 1 s poll: the
            # tick ends at its budget and the read is counted late, while the
            # other sources' readings stay fresh.
            scale_during=True, scale_error="no answer within this tick",
            sar_error="timed out", trust_error="timed out")

    def test_3_token_rejected_401(self):
        self.start_ballast("direct")
        self.run_fault(
            "401", "unauthenticated",
            start=lambda: self._write_token(BAD_TOKEN),
            end=lambda: self._write_token(self.token),
            scale_during=True,
            scale_error="HTTP 401: the service account token was rejected",
            sar_error="SubjectAccessReview: HTTP 401",
            trust_error="HTTP 401")

    def test_4_rbac_removed_403(self):
        self.start_ballast("direct")
        saved = []
        for kind, name, ns in (("clusterrolebinding", "ballast", None),
                               ("rolebinding", "ballast-auth-reader",
                                "kube-system")):
            args = [kind, name] + (["-n", ns] if ns else [])
            obj = json.loads(self.cp.kubectl("get", *args, "-o",
                                             "json").stdout)
            for key in ("resourceVersion", "uid", "creationTimestamp",
                        "managedFields"):
                obj["metadata"].pop(key, None)
            saved.append((args, obj))

        def remove():
            for args, _ in saved:
                self.cp.kubectl("delete", *args)

        def restore():
            for _, obj in saved:
                self.cp.apply(json.dumps(obj))
        try:
            self.run_fault(
                "403", "permission_denied", start=remove, end=restore,
                scale_during=True,
                scale_error="HTTP 403: the service account may not get "
                            "deployments/scale",
                sar_error="SubjectAccessReview: HTTP 403",
                trust_error="HTTP 403")
        finally:
            for args, obj in saved:
                if self.cp.kubectl("get", *args, check=False).returncode:
                    self.cp.apply(json.dumps(obj))


if __name__ == "__main__":
    ballast_in_cluster.run_tests(sys.modules[__name__])
