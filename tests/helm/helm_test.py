"""The Helm chart (charts/ballast): lint, its renderings, k8s/ballast.yaml
as its rendering, and an install into a real control plane.

- `helm lint --strict` of the chart, with its defaults and with each
  variant below;
- k8s/ballast.yaml is `scripts/manifests`' rendering of the chart (and
  `scripts/manifests --check` fails when the file differs);
- the variants render what they say: cert-manager (Certificate, Issuers,
  the APIService's cert-manager.io/inject-ca-from and no caBundle), an
  explicit caBundle, an existing Secret, the APIService disabled, ballast
  outside the cluster, the Lease's RBAC following the config's
  state.leaderElection, the schema refusing bad values;
- `helm template | kubectl apply --dry-run=server -f -` against the real
  kube-apiserver (control_plane.py) for every variant (cert-manager's
  Certificate and Issuer CRDs, from its Go module, installed first);
- `helm install` into that control plane: every object of k8s/ballast.yaml
  is there as the chart renders it; then, as tests/cluster/cluster_test.py
  does with k8s/ballast.yaml, `ballast serve` runs on the host with the
  ServiceAccount's token (so with exactly the chart's RBAC) behind an
  ExternalName Service: the APIService becomes Available, the
  recommendation is served through the aggregator, a user without RBAC is
  refused, the HPA of k8s/hpa-example.yaml (the chart's RBAC for the HPA
  controller) scales a Deployment on it, and the replica leads through the
  Lease the chart's Role grants.

Run by ctest (label `cluster`):
    /usr/bin/python3 tests/helm/helm_test.py --ballast build/ballast
helm comes from $BALLAST_HELM, else scripts/lib.sh's ballast_helm_binary;
the control plane from $BALLAST_CLUSTER_BIN, else ballast_cluster_binaries.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import yaml  # Debian's python3-yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "cluster"))
import ballast_in_cluster  # noqa: E402
import cluster_test  # noqa: E402  (Ballast, wait_until, cluster_bin_dir)
import control_plane  # noqa: E402

CHART = os.path.join(REPO, "charts", "ballast")
NAMESPACE = "autoscaling"
APISERVICE = "v1beta1.external.metrics.k8s.io"
METRIC_PATH = ("/apis/external.metrics.k8s.io/v1beta1/namespaces/speech/"
               "ballast_recommended_replicas?labelSelector=target%3Dasr-worker")
wait_until = cluster_test.wait_until
# cert-manager, whose CRDs the cert-manager variant is checked against.
CERT_MANAGER_MODULE = "github.com/cert-manager/cert-manager@v1.19.1"

ARGS = None  # set by ballast_in_cluster.run_tests()


def helm_binary():
    if os.environ.get("BALLAST_HELM"):
        return os.environ["BALLAST_HELM"]
    out = subprocess.run(
        ["bash", "-c", "source scripts/lib.sh && ballast_helm_binary"],
        cwd=REPO, check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def cert_manager_crd(plural):
    """The path of cert-manager's CRD for `plural` (certificates, issuers)
    in its Go module, downloaded to Go's module cache when missing."""
    env = dict(os.environ)
    env["PATH"] = env.get("PATH", "") + ":/usr/local/go/bin"
    out = subprocess.run(["go", "mod", "download", "-json", CERT_MANAGER_MODULE],
                         check=True, capture_output=True, text=True, env=env,
                         cwd=tempfile.gettempdir())  # outside any go.mod
    return os.path.join(json.loads(out.stdout)["Dir"], "deploy", "crds",
                        "cert-manager.io_%s.yaml" % plural)


def ballast_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        return re.search(r"project\(ballast VERSION ([0-9.]+)", f.read()).group(1)


class Helm:
    """The helm binary with its caches and config in a directory of its own
    (nothing read from or written to ~/.config, ~/.cache)."""

    def __init__(self, binary, home):
        self.binary = binary
        self.env = dict(os.environ, HELM_CACHE_HOME=os.path.join(home, "cache"),
                        HELM_CONFIG_HOME=os.path.join(home, "config"),
                        HELM_DATA_HOME=os.path.join(home, "data"))
        self.env.pop("KUBECONFIG", None)

    def run(self, *args, check=True, kubeconfig=None):
        cmd = [self.binary, *args]
        if kubeconfig:
            cmd += ["--kubeconfig", kubeconfig]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              env=self.env, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError("%s failed (%d):\n%s%s" % (
                " ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def template(self, *values, release="ballast", namespace=NAMESPACE):
        """helm template's text for `values` (flags: --set ..., -f ...)."""
        return self.run("template", release, CHART, "--namespace", namespace,
                        *values).stdout


def objects(text):
    """The rendered objects by (kind, namespace, name)."""
    out = {}
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        meta = doc["metadata"]
        key = (doc["kind"], meta.get("namespace", ""), meta["name"])
        if key in out:
            raise AssertionError("rendered twice: %s" % (key,))
        out[key] = doc
    return out


def by_kind(objs, kind):
    return [o for (k, _, _), o in sorted(objs.items()) if k == kind]


# What k8s/ballast.yaml holds: every object the chart renders by default
# (release ballast, namespace autoscaling, createNamespace=true).
DEFAULT_OBJECTS = {
    ("Namespace", "", "autoscaling"),
    ("ServiceAccount", "autoscaling", "ballast"),
    ("RoleBinding", "kube-system", "ballast-auth-reader"),
    ("ClusterRole", "", "ballast"),
    ("ClusterRoleBinding", "", "ballast"),
    ("ClusterRole", "", "ballast:external-metrics-reader"),
    ("ClusterRoleBinding", "", "ballast:hpa-external-metrics-reader"),
    ("Role", "autoscaling", "ballast-leader-election"),
    ("RoleBinding", "autoscaling", "ballast-leader-election"),
    ("ConfigMap", "autoscaling", "ballast-config"),
    ("Deployment", "autoscaling", "ballast"),
    ("PodDisruptionBudget", "autoscaling", "ballast"),
    ("NetworkPolicy", "autoscaling", "ballast"),
    ("Service", "autoscaling", "ballast"),
    ("APIService", "", APISERVICE),
}


class HelmTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ballast-helm-test-")
        cls.helm = Helm(helm_binary(), os.path.join(cls.tmp, "helm"))
        cls.cp = None
        cls.ballast = None
        cls.redis = None

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.ballast:
                cls.ballast.stop()  # raises if ballast did not exit cleanly
        finally:
            ballast_in_cluster.stop_redis(cls.redis)
            if cls.cp:
                cls.cp.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def control_plane(cls):
        """The suite's control plane, started on first use."""
        if cls.cp is None:
            cls.cp = control_plane.ControlPlane(
                cluster_test.cluster_bin_dir(), hpa_sync_period=2).start()
        return cls.cp

    def render(self, *values, **kwargs):
        return objects(self.helm.template(*values, **kwargs))

    # -- the chart alone ---------------------------------------------------

    def test_01_helm_lint_passes_for_every_variant(self):
        for values in ([], ["--set", "tls.certManager.enabled=true"],
                       ["--set", "apiService.enabled=false"],
                       ["--set", "outOfCluster.host=10.0.0.5"],
                       ["--set", "rbac.authDelegator=true",
                        "--set", "apiService.caBundle=Zm9v"]):
            with self.subTest(values=values):
                proc = self.helm.run("lint", "--strict", CHART,
                                     "--namespace", NAMESPACE, *values)
                self.assertIn("1 chart(s) linted, 0 chart(s) failed",
                              proc.stdout)
                self.assertNotIn("[WARNING]", proc.stdout)
        # A real failure is one: a value the schema refuses.
        proc = self.helm.run("lint", "--strict", CHART, "--set",
                             "replicaCount=-1", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("replicaCount", proc.stdout + proc.stderr)

    def test_02_k8s_manifest_is_the_charts_rendering(self):
        env = dict(os.environ, BALLAST_HELM=self.helm.binary)
        proc = subprocess.run(["scripts/manifests", "--check"], cwd=REPO,
                              env=env, capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # And the check sees a difference: in a copy whose manifest was
        # edited by hand, it fails and shows the edit.
        copy = os.path.join(self.tmp, "copy")
        for d in ("scripts", "charts", "k8s"):
            shutil.copytree(os.path.join(REPO, d), os.path.join(copy, d))
        path = os.path.join(copy, "k8s", "ballast.yaml")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("minAvailable: 1", "minAvailable: 2", 1))
        proc = subprocess.run(["scripts/manifests", "--check"], cwd=copy,
                              env=env, capture_output=True, text=True)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("-  minAvailable: 2", proc.stderr)
        self.assertIn("+  minAvailable: 1", proc.stderr)
        # Regenerating restores it.
        subprocess.run(["scripts/manifests"], cwd=copy, env=env, check=True,
                       capture_output=True)
        with open(path) as f:
            self.assertEqual(f.read(), text)

    def test_03_defaults_render_the_objects_of_k8s(self):
        with open(os.path.join(REPO, "k8s", "ballast.yaml")) as f:
            committed = objects(f.read())
        self.assertEqual(set(committed), DEFAULT_OBJECTS)
        objs = self.render("--set", "createNamespace=true")
        self.assertEqual(objs, committed)
        # Without createNamespace (helm install --namespace), no Namespace.
        self.assertEqual(set(self.render()),
                         DEFAULT_OBJECTS - {("Namespace", "", "autoscaling")})
        version = ballast_version()
        with open(os.path.join(CHART, "Chart.yaml")) as f:
            chart = yaml.safe_load(f)
        self.assertEqual(chart["appVersion"], version)
        (deploy,) = by_kind(objs, "Deployment")
        spec = deploy["spec"]
        self.assertEqual(spec["replicas"], 2)
        self.assertEqual(spec["strategy"], {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
        pod = spec["template"]["spec"]
        selector = spec["selector"]["matchLabels"]
        self.assertEqual(selector, {"app.kubernetes.io/name": "ballast",
                                    "app.kubernetes.io/instance": "ballast"})
        self.assertEqual(pod["topologySpreadConstraints"], [{
            "maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector}}])
        (container,) = pod["containers"]
        self.assertEqual(container["image"], "ballast:%s" % version)
        self.assertEqual(container["resources"], {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"memory": "256Mi"}})
        self.assertEqual(container["securityContext"]["readOnlyRootFilesystem"], True)
        self.assertEqual(pod["securityContext"]["runAsUser"], 65532)
        self.assertEqual(pod["serviceAccountName"], "ballast")
        self.assertIn({"name": "tls", "secret": {"secretName": "ballast-tls"}},
                      pod["volumes"])
        (pdb,) = by_kind(objs, "PodDisruptionBudget")
        self.assertEqual(pdb["spec"], {"minAvailable": 1,
                                       "selector": {"matchLabels": selector}})
        (config,) = by_kind(objs, "ConfigMap")
        policy = yaml.safe_load(config["data"]["ballast.yaml"])
        self.assertEqual(policy["state"]["leaderElection"],
                         {"lock": "kubernetes", "leaseName": "ballast"})
        role = objs[("Role", "autoscaling", "ballast-leader-election")]
        self.assertEqual(role["rules"][0]["resourceNames"], ["ballast"])
        api = objs[("APIService", "", APISERVICE)]
        self.assertEqual(api["spec"]["caBundle"], "")
        self.assertEqual(api["spec"]["service"],
                         {"namespace": "autoscaling", "name": "ballast",
                          "port": 443})
        self.assertNotIn("annotations", api["metadata"])
        # The plain manifest keeps the one empty caBundle that
        # tests/cluster/ballast_in_cluster.register() fills in.
        with open(os.path.join(REPO, "k8s", "ballast.yaml")) as f:
            self.assertEqual(f.read().count('caBundle: ""'), 1)

    def test_04_values_set_what_they_name(self):
        objs = self.render(
            "--set", "replicaCount=3", "--set", "image.repository=reg.example/ballast",
            "--set", "image.tag=9.9.9", "--set", "resources.limits.memory=1Gi",
            "--set", "podDisruptionBudget.maxUnavailable=1",
            "--set", "tls.secretName=my-tls",
            "--set", "apiService.caBundle=Q0EK",
            "--set", "serviceAccount.name=scaler",
            "--set", "rbac.authDelegator=true",
            "--set-file", "config=" + os.path.join(REPO, "config", "demo.yaml"))
        (deploy,) = by_kind(objs, "Deployment")
        pod = deploy["spec"]["template"]["spec"]
        self.assertEqual(deploy["spec"]["replicas"], 3)
        self.assertEqual(pod["containers"][0]["image"], "reg.example/ballast:9.9.9")
        self.assertEqual(pod["containers"][0]["resources"]["limits"], {"memory": "1Gi"})
        self.assertEqual(pod["serviceAccountName"], "scaler")
        self.assertIn({"name": "tls", "secret": {"secretName": "my-tls"}},
                      pod["volumes"])
        (pdb,) = by_kind(objs, "PodDisruptionBudget")
        self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
        self.assertNotIn("minAvailable", pdb["spec"])
        self.assertEqual(objs[("APIService", "", APISERVICE)]["spec"]["caBundle"],
                         "Q0EK")
        (config,) = by_kind(objs, "ConfigMap")
        with open(os.path.join(REPO, "config", "demo.yaml")) as f:
            self.assertEqual(config["data"]["ballast.yaml"], f.read())
        delegator = objs[("ClusterRoleBinding", "", "ballast:system:auth-delegator")]
        self.assertEqual(delegator["roleRef"]["name"], "system:auth-delegator")
        self.assertEqual(delegator["subjects"], [{
            "kind": "ServiceAccount", "name": "scaler", "namespace": "autoscaling"}])
        for kind in ("RoleBinding", "ClusterRoleBinding"):
            for o in by_kind(objs, kind):
                if o["roleRef"]["name"] != "ballast:external-metrics-reader":
                    self.assertEqual(o["subjects"][0]["name"], "scaler", o)
        # demo.yaml has no state: no Lease to grant.
        self.assertEqual(by_kind(objs, "Role"), [])
        # Another release name: the objects and the certificate follow it.
        objs = self.render("--set", "tls.certManager.enabled=true",
                           release="scaler", namespace="ops")
        cert = objs[("Certificate", "ops", "scaler-ballast")]
        self.assertEqual(cert["spec"]["dnsNames"], [
            "scaler-ballast.ops.svc", "scaler-ballast.ops.svc.cluster.local"])
        self.assertEqual(objs[("APIService", "", APISERVICE)]["spec"]["service"],
                         {"namespace": "ops", "name": "scaler-ballast", "port": 443})

    def test_05_cert_manager_issues_the_certificate_and_injects_the_ca(self):
        objs = self.render("--set", "tls.certManager.enabled=true")
        api = objs[("APIService", "", APISERVICE)]
        self.assertEqual(api["metadata"]["annotations"],
                         {"cert-manager.io/inject-ca-from": "autoscaling/ballast"})
        self.assertNotIn("caBundle", api["spec"])
        cert = objs[("Certificate", "autoscaling", "ballast")]
        self.assertEqual(cert["spec"]["secretName"], "ballast-tls")
        self.assertEqual(cert["spec"]["dnsNames"], [
            "ballast.autoscaling.svc", "ballast.autoscaling.svc.cluster.local"])
        self.assertEqual(cert["spec"]["issuerRef"], {
            "name": "ballast-ca", "kind": "Issuer", "group": "cert-manager.io"})
        self.assertIn("server auth", cert["spec"]["usages"])
        # The chart's own CA: self-signed Issuer -> CA Certificate -> Issuer.
        self.assertEqual(objs[("Issuer", "autoscaling", "ballast-selfsigned")]
                         ["spec"], {"selfSigned": {}})
        ca = objs[("Certificate", "autoscaling", "ballast-ca")]["spec"]
        self.assertTrue(ca["isCA"])
        self.assertEqual(ca["issuerRef"]["name"], "ballast-selfsigned")
        self.assertEqual(objs[("Issuer", "autoscaling", "ballast-ca")]["spec"],
                         {"ca": {"secretName": ca["secretName"]}})
        (deploy,) = by_kind(objs, "Deployment")
        self.assertIn({"name": "tls", "secret": {"secretName": "ballast-tls"}},
                      deploy["spec"]["template"]["spec"]["volumes"])
        # With an issuer of the cluster's: no Issuer of the chart's.
        objs = self.render("--set", "tls.certManager.enabled=true",
                           "--set", "tls.certManager.issuerRef.name=corp-ca",
                           "--set", "tls.certManager.issuerRef.kind=ClusterIssuer",
                           "--set", "tls.certManager.issuerRef.group=cert-manager.io")
        self.assertEqual(by_kind(objs, "Issuer"), [])
        self.assertEqual(set(k[2] for k in objs if k[0] == "Certificate"),
                         {"ballast"})
        self.assertEqual(objs[("Certificate", "autoscaling", "ballast")]["spec"]
                         ["issuerRef"], {"name": "corp-ca", "kind": "ClusterIssuer",
                                         "group": "cert-manager.io"})
        # Annotations given by hand (a certificate issued elsewhere).
        objs = self.render("--set-string", "apiService.annotations."
                           "cert-manager\\.io/inject-ca-from=certs/ballast")
        api = objs[("APIService", "", APISERVICE)]
        self.assertEqual(api["metadata"]["annotations"],
                         {"cert-manager.io/inject-ca-from": "certs/ballast"})
        self.assertEqual(by_kind(objs, "Certificate"), [])

    def test_06_api_service_disabled(self):
        objs = self.render("--set", "apiService.enabled=false")
        self.assertEqual(set(objs), DEFAULT_OBJECTS - {
            ("Namespace", "", "autoscaling"), ("APIService", "", APISERVICE),
            ("ClusterRole", "", "ballast:external-metrics-reader"),
            ("ClusterRoleBinding", "", "ballast:hpa-external-metrics-reader")})

    def test_07_outside_the_cluster(self):
        objs = self.render("--set", "outOfCluster.host=10.0.0.5",
                           "--set", "outOfCluster.port=7443")
        self.assertEqual(set(objs), DEFAULT_OBJECTS - {
            ("Namespace", "", "autoscaling"),
            ("Deployment", "autoscaling", "ballast"),
            ("PodDisruptionBudget", "autoscaling", "ballast"),
            ("NetworkPolicy", "autoscaling", "ballast")})
        service = objs[("Service", "autoscaling", "ballast")]
        self.assertEqual(service["spec"], {
            "type": "ExternalName", "externalName": "10.0.0.5",
            "ports": [{"name": "https", "port": 7443}]})
        self.assertEqual(objs[("APIService", "", APISERVICE)]["spec"]["service"],
                         {"namespace": "autoscaling", "name": "ballast", "port": 7443})

    def test_08_the_lease_rbac_follows_the_config(self):
        config = os.path.join(self.tmp, "lease.yaml")
        with open(config, "w") as f:
            f.write("state:\n  redis: {address: \"redis:6379\"}\n"
                    "  leaderElection: {lock: kubernetes, leaseName: scaler-lock,"
                    " leaseNamespace: locks}\ntargets: []\n")
        objs = self.render("--set-file", "config=" + config)
        role = objs[("Role", "locks", "ballast-leader-election")]
        self.assertEqual(role["rules"][0]["resourceNames"], ["scaler-lock"])
        binding = objs[("RoleBinding", "locks", "ballast-leader-election")]
        self.assertEqual(binding["subjects"], [{
            "kind": "ServiceAccount", "name": "ballast", "namespace": "autoscaling"}])
        with open(config, "w") as f:
            f.write("state:\n  redis: {address: \"redis:6379\"}\n"
                    "  leaderElection: {lock: redis}\ntargets: []\n")
        self.assertEqual(by_kind(self.render("--set-file", "config=" + config),
                                 "Role"), [])
        # A config that is not YAML is refused at render time.
        with open(config, "w") as f:
            f.write("state: [\n")
        proc = self.helm.run("template", "ballast", CHART, "--set-file",
                             "config=" + config, check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("config: not YAML", proc.stderr)

    def test_09_the_schema_refuses_bad_values(self):
        for values, what in ((["--set", "replicaCount=-1"], "replicaCount"),
                             (["--set", "replicas=2"], "replicas"),
                             (["--set", "apiService.caBundle=not base64!"], "caBundle"),
                             (["--set", "service.type=ExternalName"], "type")):
            with self.subTest(values=values):
                proc = self.helm.run("template", "ballast", CHART, *values,
                                     check=False)
                self.assertNotEqual(proc.returncode, 0)
                self.assertIn("values don't meet the specifications of the schema",
                              proc.stderr)
                self.assertIn(what, proc.stderr)

    # -- against the real API server ---------------------------------------

    def test_10_every_variant_is_accepted_by_the_api_server(self):
        cp = self.control_plane()
        cp.kubectl("create", "namespace", "dry-run")
        # cert-manager's CRDs from its Go module (a dependency, not a copy),
        # so that the Certificates and Issuers meet the real schema.
        for crd in ("certificates", "issuers"):
            cp.kubectl("apply", "--server-side", "-f", cert_manager_crd(crd))
        for crd in ("certificates", "issuers"):
            wait_until("the %s CRD established" % crd, lambda: "True" in cp.kubectl(
                "get", "crd", "%s.cert-manager.io" % crd, "-o",
                "jsonpath={.status.conditions[?(@.type=='Established')].status}",
                check=False).stdout, 30)
        for values in ([], ["--set", "apiService.enabled=false"],
                       ["--set", "outOfCluster.host=10.0.0.5"],
                       ["--set", "rbac.authDelegator=true",
                        "--set", "apiService.caBundle=" + base64.b64encode(
                            b"not a CA, only base64").decode()],
                       ["--set", "tls.certManager.enabled=true"]):
            with self.subTest(values=values):
                text = self.helm.template(*values, namespace="dry-run")
                served = list(objects(text).values())
                proc = cp.kubectl("apply", "--dry-run=server", "-f", "-",
                                  input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                    "items": served}), check=False)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertNotIn("Warning", proc.stderr)
                self.assertEqual(len(proc.stdout.strip().splitlines()),
                                 len(served), proc.stdout)
        # helm template's text itself, piped.
        text = self.helm.template(namespace="dry-run")
        proc = cp.kubectl("apply", "--dry-run=server", "-f", "-", input=text,
                          check=False)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn('apiservice.apiregistration.k8s.io/%s created (server dry run)'
                      % APISERVICE, proc.stdout)

    def test_11_helm_install_works_as_k8s_does(self):
        cp = self.control_plane()
        serving = control_plane.make_serving_cert(
            os.path.join(self.tmp, "serving"),
            dns_names=["ballast.autoscaling.svc"], ip_addresses=["127.0.0.1"])
        ca_bundle = control_plane.read_b64(serving["ca"])
        proc = self.helm.run("install", "ballast", CHART, "--namespace", NAMESPACE,
                             "--create-namespace", "--set", "apiService.caBundle=" +
                             ca_bundle, kubeconfig=cp.kubeconfig)
        self.assertIn("STATUS: deployed", proc.stdout)
        status = json.loads(self.helm.run("status", "ballast", "-n", NAMESPACE,
                                          "-o", "json", kubeconfig=cp.kubeconfig).stdout)
        self.assertEqual(status["info"]["status"], "deployed")
        # Every object of k8s/ballast.yaml is there as the chart rendered it
        # (the Namespace is helm's --create-namespace).
        with open(os.path.join(REPO, "k8s", "ballast.yaml")) as f:
            want = objects(f.read())
        for (kind, ns, name), obj in sorted(want.items()):
            with self.subTest(object="%s %s/%s" % (kind, ns, name)):
                args = ["get", "%s.%s" % (kind.lower(), obj["apiVersion"].split("/")[0])
                        if "/" in obj["apiVersion"] else kind.lower(), name, "-o", "json"]
                if ns:
                    args += ["-n", ns]
                live = json.loads(cp.kubectl(*args).stdout)
                if kind != "Namespace":
                    self.assertEqual(live["metadata"]["annotations"]
                                     ["meta.helm.sh/release-name"], "ballast")
                for field in ("spec", "rules", "roleRef", "subjects", "data"):
                    if field in obj:
                        self.assertTrue(_contains(live[field], _fill(obj[field],
                                                                     ca_bundle)),
                                        "%s: %s\nnot in\n%s" % (field, obj[field],
                                                                live[field]))
        # As register() does with k8s/ballast.yaml: no kubelet, no
        # kube-proxy, so ballast runs on the host; the Service becomes an
        # ExternalName one to it and the APIService names its port.
        https_port = control_plane.free_port()
        telemetry_port = control_plane.free_port()
        cp.kubectl("delete", "service", "ballast", "-n", NAMESPACE)
        cp.apply(json.dumps({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "ballast", "namespace": NAMESPACE},
            "spec": {"type": "ExternalName", "externalName": "127.0.0.1",
                     "ports": [{"name": "https", "port": https_port}]}}))
        cp.kubectl("patch", "apiservice", APISERVICE, "--type=merge", "-p",
                   json.dumps({"spec": {"service": {"port": https_port}}}))
        token = cp.kubectl("create", "token", "ballast", "-n", NAMESPACE,
                           "--duration=1h").stdout.strip()
        kubeconfig = os.path.join(self.tmp, "ballast.kubeconfig")
        with open(kubeconfig, "w") as f:
            json.dump({
                "apiVersion": "v1", "kind": "Config",
                "clusters": [{"name": "test", "cluster": {
                    "server": cp.server, "certificate-authority": cp.pki["ca"]}}],
                "users": [{"name": "ballast", "user": {"token": token}}],
                "contexts": [{"name": "ballast", "context": {
                    "cluster": "test", "user": "ballast"}}],
                "current-context": "ballast"}, f)
        cls = type(self)
        cls.redis, redis_port, r = ballast_in_cluster.start_redis(wait_until)
        config = os.path.join(self.tmp, "ballast.yaml")
        with open(config, "w") as f:
            f.write(ballast_in_cluster.serve_config(
                kubeconfig, redis_port, https_port, serving,
                control_plane.free_port(), telemetry_port,
                "allowedTtlSeconds: 2, deniedTtlSeconds: 2", """\
  - name: asr-worker
    minReplicas: 2
    maxReplicas: 40
    currentReplicas: {kubernetes: {namespace: speech, deployment: asr-worker}}
    inputs:
      - {name: backlog, celery: {source: celery, queues: [asr]}, averageValue: 10}
state:
  redis: {address: "redis://127.0.0.1:%d/1"}
  leaderElection: {lock: kubernetes, leaseName: ballast}
""" % redis_port))
        ballast_in_cluster.create_deployment(cp, "speech", "asr-worker", replicas=2)
        with open(os.path.join(REPO, "k8s", "hpa-example.yaml")) as f:
            cp.apply(f.read())
        r.lpush("asr", *["task-%d" % i for i in range(35)])
        os.environ["POD_NAME"] = "ballast-host-0"
        os.environ["POD_NAMESPACE"] = NAMESPACE
        cls.ballast = cluster_test.Ballast(ARGS.ballast, config,
                                           os.path.join(self.tmp, "ballast.log"),
                                           telemetry_port)
        cls.ballast.start()

        def available():
            out = json.loads(cp.kubectl("get", "apiservice", APISERVICE,
                                        "-o", "json").stdout)
            for c in out.get("status", {}).get("conditions", []):
                if c["type"] == "Available" and c["status"] == "True":
                    return c
            return None
        self.assertEqual(wait_until("APIService Available", available, 60)["reason"],
                         "Passed")

        def served():
            proc = cp.kubectl("get", "--raw", METRIC_PATH, check=False)
            if proc.returncode != 0:
                return None
            (item,) = json.loads(proc.stdout)["items"]
            return int(item["value"])
        # ceil(35 / 10) = 4 through the aggregator, with the chart's RBAC
        # (SubjectAccessReviews, deployments/scale).
        self.assertEqual(wait_until("4 served", lambda: served() == 4 and 4, 30), 4)
        # The API server's own RBAC refuses a user without a binding.
        proc = cp.kubectl("get", "--raw", METRIC_PATH, check=False,
                          kubeconfig=cp.user_kubeconfig("nobody"))
        self.assertIn("Forbidden", proc.stderr)
        # The HPA controller may read it (the chart's binding) and scales.
        wait_until("the HPA scales asr-worker to 4", lambda: json.loads(cp.kubectl(
            "get", "deployment", "asr-worker", "-n", "speech", "-o", "json").stdout)
            ["spec"]["replicas"] == 4, 60)
        # The Lease the chart's Role grants: ballast leads through it.
        lease = json.loads(cp.kubectl("get", "lease", "ballast", "-n", NAMESPACE,
                                      "-o", "json").stdout)
        self.assertEqual(lease["spec"]["holderIdentity"], "ballast-host-0")
        self.assertIn("\nballast_leader 1\n", "\n" + cls.ballast.metrics())


def _fill(value, ca_bundle):
    """The rendered value with the caBundle the install set."""
    if isinstance(value, dict):
        return {k: (ca_bundle if k == "caBundle" else _fill(v, ca_bundle))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ca_bundle) for v in value]
    return value


def _contains(live, want):
    """Whether every field of want is in live with the same value (the API
    server adds defaults)."""
    if isinstance(want, dict):
        return isinstance(live, dict) and all(
            k in live and _contains(live[k], v) for k, v in want.items())
    if isinstance(want, list):
        return (isinstance(live, list) and len(live) == len(want) and
                all(_contains(a, b) for a, b in zip(live, want)))
    if isinstance(want, str) and isinstance(live, (int, float)):
        return str(live) == want
    return live == want


if __name__ == "__main__":
    ballast_in_cluster.run_tests(sys.modules[__name__])
