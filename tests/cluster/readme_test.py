"""README.md's "Deploying into a cluster", run as written.

Every shell block of that section that follows a `<!-- readme-test: NAME
-->` comment is extracted and run with bash (-e, -u, pipefail), unchanged,
in a fresh directory that holds the checkout's k8s/, charts/ and config/
and build/ballast, with kubectl and helm on PATH and the admin kubeconfig
of a real control plane (control_plane.py) in KUBECONFIG. The section's
three paths are followed one after the other on that control plane:

1. namespace, certificate: the Secret holds a certificate the CA signed for
   ballast.autoscaling.svc;
2. helm (in the cluster): the release is deployed with every object of
   k8s/ballast.yaml and the CA in the APIService's caBundle; then
   uninstalled (by the test);
3. manifest: the same objects from k8s/ballast.yaml; then deleted (by the
   test) but for the namespace and the Secret;
4. outside-install, outside-kubeconfig, outside-config, outside-serve
   (ballast on this host, as the section describes; BALLAST_PORT and
   CELERY_REDIS, which the blocks read, name free ports: ballast's and that
   of a redis-server the test starts), then workload and check: the
   APIService is Available, the check's commands succeed, and the HPA of
   k8s/hpa-example.yaml scales the workload on ballast's recommendation
   when a backlog arrives.

No kubelet runs, so the in-cluster paths stop at their objects.

Run by ctest (label `cluster`):
    /usr/bin/python3 tests/cluster/readme_test.py --ballast build/ballast
"""

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ballast_in_cluster  # noqa: E402
import cluster_test  # noqa: E402
import control_plane  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "helm"))
import helm_test  # noqa: E402

import yaml  # noqa: E402  Debian's python3-yaml

wait_until = cluster_test.wait_until
APISERVICE = "v1beta1.external.metrics.k8s.io"
SECTION = "### Deploying into a cluster"
# The blocks the section must have, in its order.
BLOCKS = ["namespace", "certificate", "helm", "manifest", "workload", "check",
          "outside-install", "outside-kubeconfig", "outside-config",
          "outside-serve"]

ARGS = None  # set by ballast_in_cluster.run_tests()


def readme_blocks():
    """{name: shell text} of the section's marked blocks, in order."""
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    start = text.index(SECTION)
    end = text.find("\n### ", start + len(SECTION))
    section = text[start:end if end >= 0 else len(text)]
    blocks = {}
    for m in re.finditer(
            r"^([ \t]*)<!-- readme-test: ([a-z-]+) -->\n\s*\n?"
            r"^([ \t]*)```sh\n(.*?)^[ \t]*```$", section, re.M | re.S):
        name, indent, body = m.group(2), m.group(3), m.group(4)
        if name in blocks:
            raise AssertionError("README: two blocks named %s" % name)
        lines = body.splitlines(keepends=True)
        for line in lines:
            if line.strip() and not line.startswith(indent):
                raise AssertionError("README block %s: %r is outdented" % (name, line))
        blocks[name] = "".join(line[len(indent):] for line in lines)
    return blocks


class ReadmeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.blocks = readme_blocks()
        cls.tmp = tempfile.mkdtemp(prefix="ballast-readme-test-")
        cls.serve = None
        cls.redis = None
        cls.cp = control_plane.ControlPlane(
            cluster_test.cluster_bin_dir(), hpa_sync_period=2).start()
        try:
            cls._prepare()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _prepare(cls):
        # The working directory: what a checkout's root has that the steps use.
        cls.work = os.path.join(cls.tmp, "work")
        os.makedirs(os.path.join(cls.work, "build"))
        for d in ("k8s", "charts", "config"):
            os.symlink(os.path.join(REPO, d), os.path.join(cls.work, d))
        os.symlink(os.path.abspath(ARGS.ballast),
                   os.path.join(cls.work, "build", "ballast"))
        tools = os.path.join(cls.tmp, "bin")
        os.makedirs(tools)
        os.symlink(os.path.join(cls.cp.bin_dir, "kubectl"),
                   os.path.join(tools, "kubectl"))
        os.symlink(helm_test.helm_binary(), os.path.join(tools, "helm"))
        home = os.path.join(cls.tmp, "home")
        os.makedirs(home)
        cls.redis_port = control_plane.free_port()
        cls.env = dict(os.environ, PATH=tools + ":" + os.environ["PATH"],
                       KUBECONFIG=cls.cp.kubeconfig, HOME=home, KUBERC="off",
                       BALLAST_PORT=str(control_plane.free_port()),
                       CELERY_REDIS="127.0.0.1:%d" % cls.redis_port)
        cls.env.pop("BALLAST_HOST", None)  # its default: 127.0.0.1

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.serve and cls.serve.poll() is None:
                os.killpg(cls.serve.pid, signal.SIGTERM)
                try:
                    cls.serve.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(cls.serve.pid, signal.SIGKILL)
                    cls.serve.wait()
        finally:
            ballast_in_cluster.stop_redis(cls.redis)
            cls.cp.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_block(self, name):
        """Runs README block `name` as written; returns its stdout."""
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", self.blocks[name]],
                              cwd=self.work, env=self.env, capture_output=True,
                              text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, "README block %s failed:\n%s\n%s%s" % (
            name, self.blocks[name], proc.stdout, proc.stderr))
        return proc.stdout

    def kubectl_json(self, *args):
        return json.loads(self.cp.kubectl(*args, "-o", "json").stdout)

    def manifest_objects(self):
        with open(os.path.join(REPO, "k8s", "ballast.yaml")) as f:
            return helm_test.objects(f.read())

    def assert_objects_there(self, managed_by_helm):
        with open(os.path.join(self.work, "ca.crt"), "rb") as f:
            ca = f.read()
        for (kind, ns, name), obj in sorted(self.manifest_objects().items()):
            with self.subTest(object="%s %s/%s" % (kind, ns, name)):
                group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
                args = ["get", kind.lower() + ("." + group if group else ""), name]
                if ns:
                    args += ["-n", ns]
                live = self.kubectl_json(*args)
                if kind != "Namespace":
                    self.assertEqual(live["metadata"]["labels"]
                                     ["app.kubernetes.io/instance"], "ballast")
                    self.assertEqual("meta.helm.sh/release-name" in
                                     live["metadata"].get("annotations", {}),
                                     managed_by_helm)
        api = self.kubectl_json("get", "apiservice", APISERVICE)
        self.assertEqual(base64.b64decode(api["spec"]["caBundle"]), ca)

    def delete_manifest_objects(self):
        """Everything of k8s/ballast.yaml but the Namespace (no namespace
        controller runs here to finish deleting one)."""
        for (kind, ns, name), obj in self.manifest_objects().items():
            if kind == "Namespace":
                continue
            group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
            args = ["delete", kind.lower() + ("." + group if group else ""), name,
                    "--wait=true"]
            if ns:
                args += ["-n", ns]
            self.cp.kubectl(*args)

    def test_the_deployment_section_as_written(self):
        self.assertEqual(list(self.blocks), BLOCKS)

        # Steps 2 and 3.
        self.run_block("namespace")
        self.run_block("certificate")
        secret = self.kubectl_json("get", "secret", "ballast-tls", "-n", "autoscaling")
        self.assertEqual(secret["type"], "kubernetes.io/tls")
        cert = os.path.join(self.tmp, "secret.crt")
        with open(cert, "wb") as f:
            f.write(base64.b64decode(secret["data"]["tls.crt"]))
        verify = subprocess.run(["openssl", "verify", "-CAfile",
                                 os.path.join(self.work, "ca.crt"), "-purpose",
                                 "sslserver", cert], capture_output=True, text=True)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        text = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-ext",
                               "subjectAltName"], capture_output=True, text=True,
                              check=True).stdout
        self.assertIn("DNS:ballast.autoscaling.svc", text)

        # Step 4 with Helm: the objects of k8s/ballast.yaml, as a release.
        self.run_block("helm")
        status = subprocess.run(["helm", "status", "ballast", "-n", "autoscaling",
                                 "-o", "json"], env=self.env, capture_output=True,
                                text=True, check=True)
        self.assertEqual(json.loads(status.stdout)["info"]["status"], "deployed")
        self.assert_objects_there(managed_by_helm=True)
        subprocess.run(["helm", "uninstall", "ballast", "-n", "autoscaling",
                        "--wait"], env=self.env, capture_output=True, check=True)
        self.assertNotEqual(self.cp.kubectl("get", "apiservice", APISERVICE,
                                            check=False).returncode, 0)

        # Step 4 with the plain manifest: the same objects.
        self.run_block("manifest")
        self.assert_objects_there(managed_by_helm=False)
        self.delete_manifest_objects()

        # ballast outside the cluster, then steps 5 and 6.
        self.run_block("outside-install")
        service = self.kubectl_json("get", "service", "ballast", "-n", "autoscaling")
        self.assertEqual(service["spec"]["externalName"], "127.0.0.1")
        port = int(self.env["BALLAST_PORT"])
        self.assertEqual(service["spec"]["ports"][0]["port"], port)
        self.assertEqual(self.kubectl_json("get", "apiservice", APISERVICE)
                         ["spec"]["service"]["port"], port)
        self.assertNotEqual(self.cp.kubectl("get", "deployment", "ballast", "-n",
                                            "autoscaling", check=False).returncode, 0)
        self.run_block("outside-kubeconfig")
        with open(os.path.join(self.work, "ballast.kubeconfig")) as f:
            kubeconfig = yaml.safe_load(f)
        self.assertEqual(kubeconfig["users"][0]["user"], {"tokenFile": "ballast.token"})
        # The token is the ServiceAccount's.
        whoami = self.cp.kubectl("auth", "whoami", "-o", "json", kubeconfig=os.path.join(
            self.work, "ballast.kubeconfig"))
        self.assertEqual(json.loads(whoami.stdout)["status"]["userInfo"]["username"],
                         "system:serviceaccount:autoscaling:ballast")
        self.run_block("outside-config")

        type(self).redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis  # Debian's python3-redis
        r = redis.Redis(host="127.0.0.1", port=self.redis_port)

        def ping():
            try:
                return r.ping()
            except Exception:
                return False
        wait_until("redis", ping, 10)
        # outside-serve runs until stopped: in the background, its output in
        # a log.
        log = os.path.join(self.tmp, "serve.log")
        with open(log, "w") as f:
            type(self).serve = subprocess.Popen(
                ["bash", "-euo", "pipefail", "-c", self.blocks["outside-serve"]],
                cwd=self.work, env=self.env, stdout=f, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.run_block("workload")

        def available():
            if self.serve.poll() is not None:
                with open(log) as f:
                    raise AssertionError("ballast exited:\n" + f.read())
            for c in self.kubectl_json("get", "apiservice", APISERVICE).get(
                    "status", {}).get("conditions", []):
                if c["type"] == "Available" and c["status"] == "True":
                    return c
            return None
        wait_until("APIService Available", available, 60)
        path = ("/apis/external.metrics.k8s.io/v1beta1/namespaces/speech/"
                "ballast_recommended_replicas?labelSelector=target%3Dasr-worker")

        def served():
            proc = self.cp.kubectl("get", "--raw", path, check=False)
            return proc.returncode == 0 and int(json.loads(proc.stdout)["items"][0]["value"])
        self.assertEqual(wait_until("a recommendation", served, 30), 2)
        out = self.run_block("check")
        self.assertRegex(out, r"v1beta1\.external\.metrics\.k8s\.io\s+autoscaling/ballast\s+True")
        self.assertIn('"kind":"ExternalMetricValueList"', out)

        # Step 7: the HPA follows ballast: 150 tasks / 30 per worker = 5.
        r.lpush("asr", *["task-%d" % i for i in range(150)])
        wait_until("the HPA scales asr-worker to 5", lambda: self.kubectl_json(
            "get", "deployment", "asr-worker", "-n", "speech")["spec"]["replicas"] == 5,
            60)


if __name__ == "__main__":
    ballast_in_cluster.run_tests(sys.modules[__name__])
