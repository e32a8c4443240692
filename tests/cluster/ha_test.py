"""Issue 18 in a real control plane: two `ballast serve` replicas, one
leader elected with a coordination.k8s.io/v1 Lease through the real
kube-apiserver, a real redis-server as broker and state store, and the real
HPA (kube-controller-manager) reading ballast through the aggregator.

No kube-proxy runs here, so the `ballast` Service (an ExternalName to
127.0.0.1, see ballast_in_cluster.register) points at a small TCP balancer
on loopback (Balancer below): it sends each new connection to a replica
whose /readyz answers 200, round robin, as kube-proxy sends to the ready
endpoints of a Service.

1. One replica leads; the Lease is as client-go writes it (holderIdentity
   the pod name, leaseDurationSeconds, leaseTransitions).
2. The leader SIGKILLed inside a scale-down window: the follower leads
   within the lease duration plus a tick, the Lease's holder and
   transitions change, the aggregator serves the window's value all along,
   and the HPA never scales below it before the window that began before
   the failover ends; then it scales down.
3. A rolling restart of both replicas, one after the other, during load:
   every request through the aggregator is answered, none below the window.
4. The leader cut off from the API server (a black hole between it and
   kube-apiserver): it stops leading and writing before its lease can be
   taken, the other replica leads, and no write of the old leader reaches
   the state store after the new leader's first (Redis MONITOR sees every
   write attempt); healed, it follows.

Only the standard library (and Debian's python3-redis).
"""

import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ballast_in_cluster  # noqa: E402
import cluster_test  # noqa: E402
import control_plane  # noqa: E402

wait_until = cluster_test.wait_until
METRIC_PATH = cluster_test.METRIC_PATH
HPA_SYNC_SECONDS = 1
WINDOW = 20
LEASE = {"duration": 4, "renew": 3, "retry": 1}
LOCK = "kubernetes"  # bench/failover.py also runs it with "redis"
ARGS = None  # set by ballast_in_cluster.run_tests()


class Balancer:
    """A TCP balancer on 127.0.0.1: each accepted connection is forwarded to
    the next backend (host port) whose `ready()` is true."""

    def __init__(self, backends):
        self.backends = backends  # list of (port, ready)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.next = 0
        self.closed = False
        # While set, the bytes of every connection are dropped (BlackHole).
        self.cut_off = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _pick(self):
        for _ in range(len(self.backends)):
            port, ready = self.backends[self.next % len(self.backends)]
            self.next += 1
            if ready():
                try:
                    return socket.create_connection(("127.0.0.1", port), 2)
                except OSError:
                    continue
        return None

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = self._pick()
            if upstream is None:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b),
                                 daemon=True).start()

    def _pipe(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.cut_off:
                    continue  # dropped: the peer waits for its timeout
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.closed = True
        self.sock.close()


class BlackHole(Balancer):
    """A forwarder to one port that `cut()` turns into a black hole: the
    bytes of open connections are dropped and new connections are accepted
    and never answered, as a network partition does; `heal()` forwards
    again."""

    def __init__(self, port):
        super().__init__([(port, lambda: True)])

    def cut(self):
        self.cut_off = True

    def heal(self):
        self.cut_off = False


class StoreWrites:
    """Every state write the state store receives, from Redis MONITOR:
    `attempts`, (server time, term, writer) of each EVAL of the write script
    (its keys end with <prefix>meta, then come term and writer), and
    `landed`, the same for each write that passed the fence (the script's
    own HSET of <prefix>meta, which MONITOR shows as a "lua" client's)."""

    ATTEMPT = re.compile(r"^EVAL .* ballast:meta (\d+) (\S+) ")
    LANDED = re.compile(r"^HSET ballast:meta writer (\S+) term (\d+)")

    def __init__(self, redis_port):
        import redis
        self.attempts = []
        self.landed = []
        self.conn = redis.Redis(host="127.0.0.1", port=redis_port)
        self.monitor = self.conn.monitor()
        self.monitor.__enter__()
        self.stopped = False
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self):
        try:
            for cmd in self.monitor.listen():
                if self.stopped:
                    return
                m = self.ATTEMPT.match(cmd["command"])
                if m and cmd["client_type"] != "lua":
                    self.attempts.append((cmd["time"], int(m.group(1)),
                                          m.group(2)))
                m = self.LANDED.match(cmd["command"])
                if m and cmd["client_type"] == "lua":
                    self.landed.append((cmd["time"], int(m.group(2)),
                                        m.group(1)))
        except Exception:  # the connection closed by stop()
            return

    def stop(self):
        self.stopped = True
        try:
            self.monitor.connection.disconnect()
        except Exception:
            pass


class Replica(cluster_test.Ballast):
    """One `ballast serve` replica, with its pod name."""

    def __init__(self, name, binary, config_path, log_path, telemetry_port,
                 https_port):
        super().__init__(binary, config_path, log_path, telemetry_port)
        self.name = name
        self.https_port = https_port

    def start(self):
        with open(self.log_path, "a") as log:
            env = dict(os.environ, POD_NAME=self.name,
                       POD_NAMESPACE="autoscaling")
            self.proc = cluster_test.subprocess.Popen(
                [self.binary, "serve", "--config", self.config_path],
                stdout=log, stderr=cluster_test.subprocess.STDOUT, cwd="/",
                env=env)
        wait_until("%s /readyz" % self.name, self._ready, 30)

    def ready(self):
        try:
            return self.proc is not None and self.proc.poll() is None and \
                self._ready()
        except AssertionError:
            return False

    def leading(self):
        """ballast_leader (a series without labels) is 1."""
        try:
            return "\nballast_leader 1\n" in "\n" + self.metrics()
        except OSError:
            return False


class HaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ballast-ha-test-")
        cls.cp = ballast_in_cluster.new_control_plane(
            ARGS.kubernetes, hpa_sync_period=HPA_SYNC_SECONDS).start()
        cls.replicas = []
        cls.balancer = None
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
        ports = [control_plane.free_port() for _ in range(2)]
        cls.balancer = Balancer([])
        deployed = ballast_in_cluster.register(cp, cls.balancer.port, cls.tmp)
        # ballast-0 reaches kube-apiserver through a black hole test 4 cuts.
        api_port = int(cp.server.rsplit(":", 1)[1])
        cls.hole = BlackHole(api_port)
        holed = os.path.join(cls.tmp, "ballast-0.kubeconfig")
        with open(deployed.kubeconfig) as src, open(holed, "w") as dst:
            dst.write(src.read().replace(cp.server,
                                         "https://127.0.0.1:%d" %
                                         cls.hole.port))
        for i, https in enumerate(ports):
            name = "ballast-%d" % i
            telemetry = control_plane.free_port()
            config = os.path.join(cls.tmp, name + ".yaml")
            with open(config, "w") as f:
                f.write(ballast_in_cluster.serve_config(
                    holed if i == 0 else deployed.kubeconfig,
                    cls.redis_port, https,
                    deployed.serving, control_plane.free_port(), telemetry,
                    "allowedTtlSeconds: 10, deniedTtlSeconds: 2", """\
  - name: asr-worker
    minReplicas: 2
    maxReplicas: 40
    currentReplicas: {kubernetes: {namespace: speech, deployment: asr-worker}}
    inputs:
      - {name: backlog, celery: {source: celery, queues: [asr]}, averageValue: 10}
    behavior:
      scaleDown: {stabilizationWindowSeconds: %d}
state:
  redis: {address: "127.0.0.1:%d"}
  leaderElection: {lock: %s, leaseNamespace: autoscaling,
                   leaseDurationSeconds: %d, renewDeadlineSeconds: %d,
                   retryPeriodSeconds: %d}
""" % (WINDOW, cls.redis_port, LOCK, LEASE["duration"], LEASE["renew"],
                    LEASE["retry"])))
            replica = Replica(name, ARGS.ballast, config,
                              os.path.join(cls.tmp, name + ".log"), telemetry,
                              https)
            cls.replicas.append(replica)
            cls.balancer.backends.append((https, replica.ready))
        cls.set_backlog(20)
        for replica in cls.replicas:
            replica.start()
        ballast_in_cluster.create_deployment(cp, "speech", "asr-worker",
                                             replicas=2)
        ballast_in_cluster.wait_until_served(cp, wait_until)
        cp.apply(ballast_in_cluster.hpa_manifest(cp, "asr-worker", "speech",
                                                 2, 40))

    @classmethod
    def tearDownClass(cls):
        try:
            for replica in getattr(cls, "replicas", []):
                if replica.proc and replica.proc.poll() is None:
                    replica.stop()
        finally:
            if cls.balancer:
                cls.balancer.close()
            if getattr(cls, "hole", None):
                cls.hole.close()
            ballast_in_cluster.stop_redis(getattr(cls, "redis", None))
            cls.cp.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- helpers -------------------------------------------------------------

    @classmethod
    def set_backlog(cls, n):
        ballast_in_cluster.set_backlog(cls.r, "asr", n)

    def lease(self):
        return json.loads(self.cp.kubectl(
            "get", "lease", "ballast", "-n", "autoscaling", "-o",
            "json").stdout)

    def leader(self, timeout=20):
        def one():
            leading = [r for r in self.replicas if r.leading()]
            return leading[0] if len(leading) == 1 else None
        try:
            return wait_until("one leader", one, timeout, interval=0.2)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.logs()))

    def served(self):
        """The value through the aggregator, or None when it fails."""
        return ballast_in_cluster.served(self.cp, METRIC_PATH)

    def spec_replicas(self):
        return ballast_in_cluster.spec_replicas(self.cp, "speech", "asr-worker")

    def logs(self):
        return "\n".join("--- %s ---\n%s" % (r.name, r.log_tail(40))
                         for r in self.replicas)

    def scale_to(self, backlog, replicas):
        self.set_backlog(backlog)
        try:
            wait_until("served %d" % replicas,
                       lambda: self.served() == replicas, 30)
        except AssertionError as e:
            raise AssertionError("%s\n%s\n%s" % (
                e, self.cp.kubectl("get", "--raw", METRIC_PATH,
                                   check=False).stderr, self.logs()))
        wait_until("HPA at %d" % replicas,
                   lambda: self.spec_replicas() == replicas, 30)

    def watch(self, seconds, on_tick=None):
        """(time, served, spec.replicas) every 0.5 s for `seconds`."""
        seen = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if on_tick:
                on_tick()
            seen.append((time.monotonic(), self.served(),
                         self.spec_replicas()))
            time.sleep(0.5)
        return seen

    # -- tests ---------------------------------------------------------------

    def test_1_one_leader_and_a_lease_as_client_go_writes_it(self):
        leader = self.leader()
        spec = self.lease()["spec"]
        self.assertEqual(spec["holderIdentity"], leader.name)
        self.assertEqual(spec["leaseDurationSeconds"], LEASE["duration"])
        self.assertIn("renewTime", spec)
        follower = [r for r in self.replicas if r is not leader][0]
        self.assertFalse(follower.leading())
        # The follower serves the leader's value (from the store).
        self.set_backlog(30)
        try:
            wait_until("both replicas at 3", lambda: [
                r.counter("ballast_recommended_replicas", target="asr-worker")
                for r in self.replicas] == [3, 3], 20)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.logs()))

    def test_2_the_leader_killed_inside_a_window(self):
        self.scale_to(100, 10)
        leader = self.leader()
        follower = [r for r in self.replicas if r is not leader][0]
        transitions = self.lease()["spec"].get("leaseTransitions", 0)
        self.set_backlog(10)  # 1 replica's worth: the window holds 10
        fell = time.monotonic()
        time.sleep(5)
        leader.proc.send_signal(signal.SIGKILL)
        leader.proc.wait()
        killed = time.monotonic()
        led = []

        def check_leader():
            if not led and follower.leading():
                led.append(time.monotonic())
        seen = self.watch(WINDOW - 5 - 2, check_leader)
        wait_until("the follower leads", follower.leading, 10)
        if not led:
            led.append(time.monotonic())
        print("failover: the follower led %.1f s after the kill" %
              (led[0] - killed), file=sys.stderr)
        self.assertLess(led[0] - killed, LEASE["duration"] + 1 + 1.5,
                        self.logs())
        spec = self.lease()["spec"]
        self.assertEqual(spec["holderIdentity"], follower.name)
        self.assertEqual(spec.get("leaseTransitions", 0), transitions + 1)
        for t, value, replicas in seen:
            self.assertGreaterEqual(replicas, 10, (t - fell, seen,
                                                   self.logs()))
            if value is not None:
                self.assertEqual(value, 10, (t - fell, seen))
        answered = [v for _, v, _ in seen if v is not None]
        # Connections to the killed replica break once; everything else is
        # answered.
        self.assertGreaterEqual(len(answered), len(seen) - 2, seen)
        # The window that began before the failover ends; then the HPA
        # follows ballast down.
        wait_until("served 2 after the window", lambda: self.served() == 2,
                   WINDOW + 10)
        self.assertGreaterEqual(time.monotonic() - fell, WINDOW - 1)
        wait_until("HPA at 2", lambda: self.spec_replicas() == 2, 30)
        leader.start()  # back as a follower for the next test
        self.assertFalse(leader.leading())

    def test_3_a_rolling_restart_under_load(self):
        self.scale_to(80, 8)
        self.set_backlog(20)  # the window holds 8
        fell = time.monotonic()
        seen = []
        for replica in list(self.replicas):
            replica.stop()
            seen += self.watch(1)
            replica.start()
            seen += self.watch(LEASE["duration"])
        for t, value, replicas in seen:
            if t - fell < WINDOW - 1:
                self.assertGreaterEqual(replicas, 8, (t - fell, seen))
                self.assertIn(value, (8, None), (t - fell, seen))
        answered = [v for _, v, _ in seen if v is not None]
        self.assertGreaterEqual(len(answered), len(seen) - 2, seen)
        self.leader()

    def test_4_the_leader_cut_off_from_the_api_server(self):
        cut_one, other = self.replicas
        if not cut_one.leading():
            # ballast-0 (behind the black hole) must lead: stop the other
            # (SIGTERM releases the Lease), then bring it back to follow.
            self.leader()
            other.stop()
            wait_until("ballast-0 leads", cut_one.leading, 15)
            other.start()
        self.leader()
        self.assertTrue(cut_one.leading())
        writes = StoreWrites(self.redis_port)
        try:
            wait_until("ballast-0 writes", lambda: any(
                w[2] == cut_one.name for w in writes.landed), 10)
            cut = time.time()
            self.hole.cut()
            stepped_down = wait_until(
                "ballast-0 steps down", lambda: not cut_one.leading() and
                time.time(), LEASE["renew"] + LEASE["retry"] + 3,
                interval=0.1)
            wait_until("ballast-1 leads", other.leading,
                       LEASE["duration"] + LEASE["renew"] + 5, interval=0.1)
            led = time.time()
            time.sleep(3)  # ticks of the new leader, and any late old write
        finally:
            writes.stop()
        log = "attempts %s\nlanded %s\n%s" % (writes.attempts, writes.landed,
                                              self.logs())
        old = [w for w in writes.attempts if w[2] == cut_one.name]
        new = [w for w in writes.landed if w[2] == other.name]
        self.assertTrue(old and new, log)
        print("cut off: ballast-0 stepped down %.1f s after the cut and "
              "tried its last write %.1f s after it; ballast-1 led %.1f s "
              "after it" % (stepped_down - cut, old[-1][0] - cut, led - cut),
              file=sys.stderr)
        # It stops leading and writing before its lease can be taken: the
        # lease it renewed last (at or before the cut) runs LEASE duration.
        self.assertLess(stepped_down, cut + LEASE["duration"], log)
        self.assertLess(old[-1][0], cut + LEASE["duration"], log)
        # Not one attempt of the old leader after the new leader's first
        # write, so none landed; the new leader writes with a newer term.
        self.assertLess(old[-1][0], new[0][0], log)
        self.assertGreater(new[0][1], old[-1][1], log)
        self.assertEqual(
            [w[2] for w in writes.landed],
            [w[2] for w in writes.landed if w[2] == cut_one.name] +
            [other.name] * len(new), log)
        meta = {k.decode(): v.decode()
                for k, v in self.r.hgetall("ballast:meta").items()}
        self.assertEqual(meta["writer"], other.name, meta)
        self.assertEqual(int(meta["term"]), new[-1][1], meta)
        self.assertEqual(self.lease()["spec"]["holderIdentity"], other.name)
        # Healed, ballast-0 follows and serves the leader's value.
        self.hole.heal()
        self.set_backlog(50)
        wait_until("both replicas at 5", lambda: [
            r.counter("ballast_recommended_replicas", target="asr-worker")
            for r in self.replicas] == [5, 5], WINDOW + 10)
        self.assertFalse(cut_one.leading())
        self.assertTrue(other.leading())

if __name__ == "__main__":
    ballast_in_cluster.run_tests(sys.modules[__name__])
