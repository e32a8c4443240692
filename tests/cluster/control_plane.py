"""A real Kubernetes control plane on loopback, for ballast's cluster tests.

ControlPlane runs etcd, kube-apiserver and kube-controller-manager (built by
scripts/lib.sh's ballast_cluster_binaries) in a temporary directory, each on
free 127.0.0.1 ports, configured the way kubeadm configures a cluster where it
matters to ballast:

- the aggregation layer: the apiserver proxies aggregated APIs (ballast's
  external.metrics.k8s.io) with a front-proxy client certificate and the
  X-Remote-User / X-Remote-Group / X-Remote-Extra- headers;
- RBAC, and the controller manager running each controller under its own
  service account (kube-system/horizontal-pod-autoscaler for the HPA);
- the deployment, replicaset, horizontalpodautoscaling and serviceaccount
  controllers (no scheduler, no kubelet: pods stay Pending).

There is no kube-proxy, so a ClusterIP is not reachable: an APIService
reaches a server on loopback through an ExternalName Service whose
externalName is 127.0.0.1, and the aggregator checks the server's certificate
for <service>.<namespace>.svc (make_serving_cert makes one).

Only the standard library and the openssl command are used.

    with ControlPlane(bin_dir) as cp:
        cp.kubectl("get", "ns")
        cp.apply(manifest)
"""

import argparse
import base64
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

__all__ = [
    "ControlPlane",
    "ControlPlaneError",
    "KubectlError",
    "binary_versions",
    "free_port",
    "make_serving_cert",
    "minor_of",
    "read_b64",
]

# Written into a directory ControlPlane owns, so that a later run may wipe it.
_MARKER = ".ballast-control-plane"

_CERT_DAYS = 365


class ControlPlaneError(RuntimeError):
    """The control plane failed to start, or a process of it died."""


class KubectlError(subprocess.CalledProcessError):
    """A kubectl command failed; its message carries kubectl's stderr."""

    def __str__(self):
        return "%s\n%s" % (super().__str__(), (self.stderr or "").strip())


# --------------------------------------------------------------------------
# Certificates, with the openssl command.


def _openssl(*args, input=None):
    proc = subprocess.run(
        ["openssl", *args],
        input=input,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise ControlPlaneError(
            "openssl %s failed: %s" % (args[0], proc.stderr.strip())
        )
    return proc.stdout


def _subject(cn, organizations=()):
    """An openssl -subj string; '/', '+' and '=' in names are escaped."""

    def escape(value):
        for ch in "\\/+=":
            value = value.replace(ch, "\\" + ch)
        return value

    parts = ["O=" + escape(o) for o in organizations] + ["CN=" + escape(cn)]
    return "/" + "/".join(parts)


def _new_key(path, rsa=False):
    """A private key: ECDSA P-256 (kubeadm's alternative to RSA, and made in
    milliseconds where an RSA key takes a few hundred), or RSA 2048."""
    if rsa:
        algorithm = ["RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
    else:
        algorithm = ["EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    _openssl("genpkey", "-algorithm", *algorithm, "-out", path)
    os.chmod(path, 0o600)


def _make_ca(dir, name, cn):
    """A self-signed CA: returns (cert path, key path) in dir."""
    cert = os.path.join(dir, name + ".crt")
    key = os.path.join(dir, name + ".key")
    _new_key(key)
    _openssl(
        "req", "-x509", "-new", "-key", key, "-out", cert,
        "-days", str(_CERT_DAYS), "-subj", _subject(cn),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    )
    return cert, key


def _sign(dir, name, ca, cn, organizations=(), server=False, client=False,
          dns_names=(), ip_addresses=()):
    """A leaf certificate and key signed by ca (cert path, key path).

    Returns (cert path, key path) in dir, named name.crt and name.key.
    """
    cert = os.path.join(dir, name + ".crt")
    key = os.path.join(dir, name + ".key")
    csr = os.path.join(dir, name + ".csr")
    ext = os.path.join(dir, name + ".ext")
    _new_key(key)
    _openssl("req", "-new", "-key", key, "-out", csr,
             "-subj", _subject(cn, organizations))
    usages = (["serverAuth"] if server else []) + (["clientAuth"] if client else [])
    lines = [
        "basicConstraints=critical,CA:FALSE",
        # digitalSignature is what (EC)DHE key exchange uses, with either key type.
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=" + ",".join(usages),
    ]
    sans = ["DNS:" + d for d in dns_names] + ["IP:" + ip for ip in ip_addresses]
    if sans:
        lines.append("subjectAltName=" + ",".join(sans))
    with open(ext, "w") as f:
        f.write("\n".join(lines) + "\n")
    ca_cert, ca_key = ca
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
        # A random serial: no .srl file, and no two certificates alike.
        "-set_serial", "0x" + secrets.token_hex(16),
        "-days", str(_CERT_DAYS), "-extfile", ext, "-out", cert,
    )
    os.remove(csr)
    os.remove(ext)
    return cert, key


def make_serving_cert(dir, dns_names=(), ip_addresses=(), cn=None):
    """A fresh CA and a serving certificate it signs, in dir (created).

    For a server the aggregator proxies to, dns_names must include
    <service>.<namespace>.svc (e.g. ballast.autoscaling.svc): that is the
    name the apiserver verifies. Returns a dict of paths: ca, ca_key, cert,
    key; put read_b64(result["ca"]) in the APIService's caBundle.
    """
    os.makedirs(dir, exist_ok=True)
    dns_names = list(dns_names)
    ip_addresses = list(ip_addresses)
    if not dns_names and not ip_addresses:
        raise ValueError("make_serving_cert needs a DNS name or an IP address")
    ca = _make_ca(dir, "serving-ca", "serving-ca-" + secrets.token_hex(4))
    cert, key = _sign(
        dir, "serving", ca, cn or (dns_names or ip_addresses)[0], server=True,
        dns_names=dns_names, ip_addresses=ip_addresses,
    )
    return {"ca": ca[0], "ca_key": ca[1], "cert": cert, "key": key}


def read_b64(path):
    """The base64 of a file's bytes (a kubeconfig's *-data, a caBundle)."""
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode("ascii")


# --------------------------------------------------------------------------
# Processes and ports.


def free_port():
    """A TCP port free on 127.0.0.1 right now (the kernel's pick for port 0).

    Another process may take it before it is used: ControlPlane.start()
    retries once with new ports when a listen fails that way.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Loaded here, not between fork and exec where as little as possible should run.
_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """Runs in the child before exec: SIGTERM it when the parent dies.

    A test killed by a timeout then leaves no etcd or apiserver behind.
    (Linux ties this to the thread that started the child.)
    """
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return "(no log: %s)\n" % e


def _is_error_line(line):
    """A klog error or fatal line (E1201 ..., F1201 ...), a cobra "Error:",
    or an etcd JSON log entry at level error or fatal."""
    if line[:1] in ("E", "F") and line[1:5].isdigit():
        return True
    return line.startswith("Error:") or '"level":"error"' in line or \
        '"level":"fatal"' in line


def _last_errors(path, count=5):
    try:
        with open(path, errors="replace") as f:
            return "".join([line for line in f if _is_error_line(line)][-count:])
    except OSError:
        return ""


class _Process:
    """One server of the control plane, logging to a file."""

    def __init__(self, name, args, log_path):
        self.name = name
        self.args = args
        self.log_path = log_path
        with open(log_path, "ab") as log:
            log.write(("$ %s\n" % " ".join(args)).encode())
            log.flush()
            self.popen = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C in a terminal reaches the harness
                # only, which stops the servers in order.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def running(self):
        return self.popen.poll() is None

    def tail(self, lines=40):
        return _tail(self.log_path, lines)

    def failure(self, what):
        """A ControlPlaneError about this process, with its log's tail."""
        status = self.popen.poll()
        state = "exited with status %s" % status if status is not None else "running"
        message = "%s: %s (%s; log %s)" % (self.name, what, state, self.log_path)
        # The cause is often logged well before the last lines.
        errors = _last_errors(self.log_path)
        if errors:
            message += "\nlast errors:\n" + errors
        return ControlPlaneError(message + "\nlast lines:\n" + self.tail())

    def stop(self, grace_seconds):
        """SIGTERM, then SIGKILL if it has not exited after grace_seconds."""
        if not self.running():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


def binary_versions(bin_dir):
    """The version each Kubernetes binary in bin_dir reports, by name:
    kube-apiserver, kube-controller-manager and kubectl (e.g. "v1.37.2", what
    ballast_cluster_binaries stamped into it)."""
    versions = {}
    for tool in ("kube-apiserver", "kube-controller-manager"):
        out = subprocess.run([os.path.join(bin_dir, tool), "--version"],
                             capture_output=True, text=True, timeout=30)
        # "Kubernetes v1.37.2"
        words = out.stdout.split()
        if out.returncode != 0 or len(words) != 2 or not words[1].startswith("v"):
            raise ControlPlaneError("%s --version: %r %s" % (
                tool, out.stdout, out.stderr.strip()))
        versions[tool] = words[1]
    out = subprocess.run(
        [os.path.join(bin_dir, "kubectl"), "version", "--client", "-o", "json"],
        capture_output=True, text=True, timeout=30,
        env={**os.environ, "KUBERC": "off"})
    if out.returncode != 0:
        raise ControlPlaneError("kubectl version --client: %s" % out.stderr.strip())
    versions["kubectl"] = json.loads(out.stdout)["clientVersion"]["gitVersion"]
    return versions


def minor_of(version):
    """"1.37" of "v1.37.2"."""
    return ".".join(version.lstrip("v").split(".")[:2])


# --------------------------------------------------------------------------
# The control plane.


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager on 127.0.0.1.

    bin_dir: holds etcd, kube-apiserver, kube-controller-manager and kubectl.
    dir: where state, certificates and logs go; a fresh temporary directory
        by default, removed by stop() unless keep is true. A given dir is
        kept; it must be empty, missing, or an earlier ControlPlane's (then
        its contents are replaced).
    hpa_sync_period: seconds between the HPA controller's passes (kubeadm's
        default is 15; tests want it short).
    start_timeout: seconds start() waits for the apiserver to be ready and
        the controller manager to be working.
    controllers: the controller manager's --controllers.
    extra_apiserver_args, extra_controller_manager_args: appended flags.
    verbosity: klog -v of the apiserver and the controller manager.

    version: kube-apiserver's version (e.g. "v1.37.2"), read from the binary;
    versions: every binary's, by name (binary_versions()).

    After start(): server (https://127.0.0.1:PORT), kubeconfig (the admin's,
    CN=admin O=system:masters, certificates embedded), pki (paths), ports,
    logs (paths by process name), start_seconds.
    """

    def __init__(self, bin_dir, dir=None, keep=False, hpa_sync_period=2,
                 start_timeout=90, controllers=(
                     "deployment", "replicaset", "horizontalpodautoscaling",
                     "serviceaccount"),
                 extra_apiserver_args=(), extra_controller_manager_args=(),
                 verbosity=0):
        self.bin_dir = os.path.abspath(bin_dir)
        for tool in ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl"):
            if not os.access(os.path.join(self.bin_dir, tool), os.X_OK):
                raise ControlPlaneError("no %s in %s" % (tool, self.bin_dir))
        self.versions = binary_versions(self.bin_dir)
        self.version = self.versions["kube-apiserver"]
        self._given_dir = os.path.abspath(dir) if dir else None
        self.keep = keep or dir is not None
        self.hpa_sync_period = hpa_sync_period
        self.start_timeout = start_timeout
        self.controllers = list(controllers)
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.extra_controller_manager_args = list(extra_controller_manager_args)
        self.verbosity = verbosity

        self.dir = None
        self.pki = {}
        self.kubeconfig = None
        self.server = None
        self.ports = {}
        self.logs = {}
        self.start_seconds = None
        self._processes = []
        self._readyz_failures = ""

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        """Starts everything; returns self once the cluster works.

        Raises ControlPlaneError (with the tail of the failing process's log)
        when a process dies or start_timeout passes first; everything started
        is stopped then.
        """
        started = time.monotonic()
        self._prepare_dir()
        try:
            self._make_pki()
            for attempt in (1, 2):
                try:
                    self._start_processes(started + self.start_timeout)
                    break
                except ControlPlaneError as e:
                    # Ports are picked free and then bound by the servers:
                    # another process may get one in between. Retry once.
                    self._stop_processes()
                    if attempt == 2 or "address already in use" not in str(e):
                        raise
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        return self

    def stop(self):
        """Stops the servers (SIGTERM, then SIGKILL after a few seconds) and
        removes the directory unless it is kept. Safe to call twice."""
        self._stop_processes()
        if self.dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def running(self):
        """Whether every server is still running."""
        return bool(self._processes) and all(p.running() for p in self._processes)

    def check(self):
        """Raises ControlPlaneError if a server has exited."""
        for p in self._processes:
            if not p.running():
                raise p.failure("exited")

    def log_tail(self, name, lines=40):
        """The last lines of a server's log: etcd, kube-apiserver,
        kube-controller-manager."""
        return _tail(self.logs[name], lines)

    def stop_apiserver(self, kill=True):
        """Stops kube-apiserver alone (SIGKILL, or SIGTERM with a few
        seconds' grace when kill is false); etcd and the controller manager
        keep running. start_apiserver() brings it back."""
        process = self._process("kube-apiserver")
        if kill:
            if process.running():
                process.popen.kill()
            process.popen.wait()
        else:
            process.stop(grace_seconds=5)

    def start_apiserver(self, timeout=None):
        """Starts a stopped kube-apiserver again with its command line: the
        same port, PKI and etcd (nothing to do when it is running). Returns
        once /readyz is ok; raises ControlPlaneError if it exits or is not
        ready within timeout seconds (default start_timeout). Call it from
        the thread that started the control plane: a server is stopped when
        the thread that started it ends (see _die_with_parent)."""
        old = self._process("kube-apiserver")
        if old.running():
            return
        new = _Process(old.name, old.args, old.log_path)
        self._processes[self._processes.index(old)] = new
        deadline = time.monotonic() + (timeout or self.start_timeout)
        self._wait(new, deadline, lambda: "/readyz is not ok" + self._readyz_failures,
                   self._apiserver_ready, also=[self._process("etcd")])

    def _process(self, name):
        for process in self._processes:
            if process.name == name:
                return process
        raise ControlPlaneError("no %s in this control plane" % name)

    # -- clients -----------------------------------------------------------

    def kubectl(self, *args, input=None, check=True, kubeconfig=None, timeout=60):
        """Runs the built kubectl against this cluster (as admin unless
        kubeconfig says otherwise); returns the CompletedProcess, text mode.
        check: raise KubectlError (stderr in its message) on failure."""
        cmd = [
            os.path.join(self.bin_dir, "kubectl"),
            "--kubeconfig", kubeconfig or self.kubeconfig,
            *args,
        ]
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        # No ~/.kube/cache, no ~/.kube/kuberc preferences: same every run.
        env["KUBECACHEDIR"] = os.path.join(self.dir, "kubectl-cache")
        env["KUBERC"] = "off"
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True,
                              env=env, timeout=timeout)
        if check and proc.returncode != 0:
            raise KubectlError(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc

    def apply(self, yaml_text, *args, kubeconfig=None):
        """kubectl apply -f - of yaml_text (extra flags in args, e.g.
        "--dry-run=server"); returns the CompletedProcess."""
        return self.kubectl("apply", "-f", "-", *args, input=yaml_text,
                            kubeconfig=kubeconfig)

    def make_client_cert(self, ca="front-proxy", *, cn, groups=(), dir=None):
        """A client certificate CN=cn, O=groups signed by the front-proxy CA
        (what the apiserver's aggregator presents to an extension server) or
        by the cluster CA (ca="cluster": a user of this apiserver).

        Written to dir (default <dir>/clients) as NAME.crt and NAME.key, NAME
        being cn with characters other than letters, digits, "-", "_" and "."
        replaced by "_"; returns (cert path, key path).
        """
        cas = {
            "front-proxy": (self.pki["front_proxy_ca"], self.pki["front_proxy_ca_key"]),
            "cluster": (self.pki["ca"], self.pki["ca_key"]),
        }
        if ca not in cas:
            raise ValueError("ca must be one of %s, not %r" % (sorted(cas), ca))
        dir = dir or os.path.join(self.dir, "clients")
        os.makedirs(dir, exist_ok=True)
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in cn)
        return _sign(dir, name, cas[ca], cn, organizations=groups, client=True)

    def user_kubeconfig(self, name, groups=()):
        """A kubeconfig for user name in groups (a client certificate from
        the cluster CA); returns its path. RBAC decides what it may do."""
        cert, key = self.make_client_cert(
            "cluster", cn=name, groups=groups,
            dir=os.path.join(self.dir, "users"))
        path = os.path.join(self.dir, "users", os.path.basename(cert)[:-4] + ".kubeconfig")
        self._write_kubeconfig(path, name, cert, key)
        return path

    def get(self, path, timeout=5):
        """GET path from the apiserver as admin: (HTTP status, body bytes)."""
        request = urllib.request.Request(self.server + path)
        try:
            with urllib.request.urlopen(request, context=self._admin_tls,
                                        timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    # -- setup -------------------------------------------------------------

    def _prepare_dir(self):
        if self._given_dir is None:
            self.dir = tempfile.mkdtemp(prefix="ballast-cluster-")
        else:
            self.dir = self._given_dir
            if os.path.isdir(self.dir) and os.listdir(self.dir):
                if not os.path.exists(os.path.join(self.dir, _MARKER)):
                    raise ControlPlaneError(
                        "%s is not empty and not a control plane's directory"
                        % self.dir)
                # An earlier run's: start afresh (new PKI, empty etcd).
                for entry in os.listdir(self.dir):
                    path = os.path.join(self.dir, entry)
                    if os.path.isdir(path) and not os.path.islink(path):
                        shutil.rmtree(path)
                    else:
                        os.remove(path)
            os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, _MARKER), "w") as f:
            f.write("ballast test control plane; removed or replaced freely\n")
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)

    def _make_pki(self):
        pki = os.path.join(self.dir, "pki")
        os.makedirs(pki, exist_ok=True)
        p = self.pki
        ca = _make_ca(pki, "ca", "kubernetes")
        p["ca"], p["ca_key"] = ca
        p["apiserver"], p["apiserver_key"] = _sign(
            pki, "apiserver", ca, "kube-apiserver", server=True,
            dns_names=["localhost", "kubernetes", "kubernetes.default",
                       "kubernetes.default.svc",
                       "kubernetes.default.svc.cluster.local"],
            ip_addresses=["127.0.0.1", "10.96.0.1"])
        p["admin"], p["admin_key"] = _sign(
            pki, "admin", ca, "admin", organizations=["system:masters"],
            client=True)
        p["controller_manager"], p["controller_manager_key"] = _sign(
            pki, "controller-manager", ca, "system:kube-controller-manager",
            client=True)
        front = _make_ca(pki, "front-proxy-ca", "front-proxy-ca")
        p["front_proxy_ca"], p["front_proxy_ca_key"] = front
        p["front_proxy_client"], p["front_proxy_client_key"] = _sign(
            pki, "front-proxy-client", front, "front-proxy-client", client=True)
        # The service-account token signing key pair (RSA, as kubeadm's).
        p["sa_key"] = os.path.join(pki, "sa.key")
        p["sa_pub"] = os.path.join(pki, "sa.pub")
        _new_key(p["sa_key"], rsa=True)
        _openssl("pkey", "-in", p["sa_key"], "-pubout", "-out", p["sa_pub"])

        self._admin_tls = ssl.create_default_context(cafile=p["ca"])
        self._admin_tls.load_cert_chain(p["admin"], p["admin_key"])

    def _write_kubeconfig(self, path, user, cert, key):
        # JSON is YAML: kubectl and client-go read it as a kubeconfig.
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "ballast-test", "cluster": {
                "server": self.server,
                "certificate-authority-data": read_b64(self.pki["ca"]),
            }}],
            "users": [{"name": user, "user": {
                "client-certificate-data": read_b64(cert),
                "client-key-data": read_b64(key),
            }}],
            "contexts": [{"name": user, "context": {
                "cluster": "ballast-test", "user": user,
            }}],
            "current-context": user,
        }
        with open(path, "w") as f:
            json.dump(config, f, indent=2)
        os.chmod(path, 0o600)

    def _start_processes(self, deadline):
        # A retry starts from an empty etcd (its member knows its peer URL).
        shutil.rmtree(os.path.join(self.dir, "etcd"), ignore_errors=True)
        self.ports = {
            "etcd_client": free_port(),
            "etcd_peer": free_port(),
            "apiserver": free_port(),
        }
        self.server = "https://127.0.0.1:%d" % self.ports["apiserver"]
        self.kubeconfig = os.path.join(self.dir, "admin.kubeconfig")
        self._write_kubeconfig(self.kubeconfig, "admin", self.pki["admin"],
                               self.pki["admin_key"])
        cm_kubeconfig = os.path.join(self.dir, "controller-manager.kubeconfig")
        self._write_kubeconfig(cm_kubeconfig, "system:kube-controller-manager",
                               self.pki["controller_manager"],
                               self.pki["controller_manager_key"])

        etcd = self._spawn("etcd", self._etcd_args())
        apiserver = self._spawn("kube-apiserver", self._apiserver_args())
        self._wait(apiserver, deadline, lambda: "/readyz is not ok" + self._readyz_failures,
                   self._apiserver_ready, also=[etcd])
        manager = self._spawn("kube-controller-manager",
                              self._controller_manager_args(cm_kubeconfig))
        # The serviceaccount controller makes default/default: the controller
        # manager is up, authenticated, and running its controllers.
        self._wait(manager, deadline, lambda: "no ServiceAccount default/default yet",
                   self._default_service_account, also=[etcd, apiserver])

    def _spawn(self, name, args):
        log = os.path.join(self.dir, "logs", name + ".log")
        self.logs[name] = log
        process = _Process(name, [os.path.join(self.bin_dir, name), *args], log)
        self._processes.append(process)
        return process

    def _wait(self, process, deadline, what, ready, also=()):
        """Polls ready() until true; raises if process (or one in also)
        exits or the deadline passes (what() says what was missing)."""
        while True:
            for p in (process, *also):
                if not p.running():
                    raise p.failure("exited during start")
            if ready():
                return
            if time.monotonic() > deadline:
                raise process.failure(
                    "not ready after %gs: %s" % (self.start_timeout, what()))
            time.sleep(0.2)

    def _apiserver_ready(self):
        try:
            status, body = self.get("/readyz?verbose", timeout=2)
        except (OSError, ssl.SSLError) as e:
            self._readyz_failures = " (%s)" % e
            return False
        # The checks still failing, for the timeout's message.
        failed = [line[3:].split(" ")[0] for line in body.decode(errors="replace").splitlines()
                  if line.startswith("[-]")]
        self._readyz_failures = " (failing: %s)" % ", ".join(failed) if failed else ""
        return status == 200

    def _default_service_account(self):
        try:
            status, _ = self.get(
                "/api/v1/namespaces/default/serviceaccounts/default", timeout=2)
        except (OSError, ssl.SSLError):
            return False
        return status == 200

    def _stop_processes(self):
        # The reverse of the start order: etcd goes last.
        while self._processes:
            self._processes.pop().stop(grace_seconds=5)

    # -- command lines -----------------------------------------------------

    def _etcd_args(self):
        client = "http://127.0.0.1:%d" % self.ports["etcd_client"]
        peer = "http://127.0.0.1:%d" % self.ports["etcd_peer"]
        return [
            "--name=control-plane",
            "--data-dir=" + os.path.join(self.dir, "etcd"),
            "--listen-client-urls=" + client,
            "--advertise-client-urls=" + client,
            "--listen-peer-urls=" + peer,
            "--initial-advertise-peer-urls=" + peer,
            "--initial-cluster=control-plane=" + peer,
            "--initial-cluster-state=new",
            # Test data: durability is not worth the fsync latency.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]

    def _apiserver_args(self):
        p = self.pki
        return [
            "--etcd-servers=http://127.0.0.1:%d" % self.ports["etcd_client"],
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            "--secure-port=%d" % self.ports["apiserver"],
            "--tls-cert-file=" + p["apiserver"],
            "--tls-private-key-file=" + p["apiserver_key"],
            "--client-ca-file=" + p["ca"],
            "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file=" + p["sa_pub"],
            "--service-account-signing-key-file=" + p["sa_key"],
            "--service-cluster-ip-range=10.96.0.0/16",
            # No kubelet or kube-proxy: nothing should chase the endpoints of
            # the kubernetes Service.
            "--endpoint-reconciler-type=none",
            # The aggregation layer, as kubeadm sets it up.
            "--proxy-client-cert-file=" + p["front_proxy_client"],
            "--proxy-client-key-file=" + p["front_proxy_client_key"],
            "--requestheader-client-ca-file=" + p["front_proxy_ca"],
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            "--enable-aggregator-routing=false",
            "--v=%d" % self.verbosity,
            *self.extra_apiserver_args,
        ]

    def _controller_manager_args(self, kubeconfig):
        p = self.pki
        return [
            "--kubeconfig=" + kubeconfig,
            "--controllers=" + ",".join(self.controllers),
            # Each controller under its own service account, the HPA's being
            # kube-system/horizontal-pod-autoscaler (tokens from TokenRequest).
            "--use-service-account-credentials=true",
            "--root-ca-file=" + p["ca"],
            "--service-account-private-key-file=" + p["sa_key"],
            "--horizontal-pod-autoscaler-sync-period=%gs" % self.hpa_sync_period,
            "--leader-elect=false",
            # No health or metrics endpoint: one port fewer to pick.
            "--secure-port=0",
            "--v=%d" % self.verbosity,
            *self.extra_controller_manager_args,
        ]


# --------------------------------------------------------------------------
# scripts/cluster: a control plane to use by hand.


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="scripts/cluster",
        description="Runs a Kubernetes control plane (etcd, kube-apiserver, "
        "kube-controller-manager) on 127.0.0.1 until Ctrl-C or SIGTERM.")
    parser.add_argument("--bin-dir", required=True,
                        help="directory of the built binaries")
    parser.add_argument("--dir", help="keep state, certificates and logs in "
                        "DIR (default: a temporary directory, removed at exit)")
    parser.add_argument("--sync-period", type=float, default=2, metavar="SECONDS",
                        help="the HPA controller's sync period (default 2)")
    parser.add_argument("--verbosity", type=int, default=0, metavar="N",
                        help="klog -v of the apiserver and controller manager")
    args = parser.parse_args(argv)

    # SIGTERM (and a closed terminal) stop it the way Ctrl-C does.
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)

    cp = ControlPlane(args.bin_dir, dir=args.dir, hpa_sync_period=args.sync_period,
                      verbosity=args.verbosity)
    try:
        cp.start()
        version = cp.kubectl("version", "-o", "json").stdout
        server_version = json.loads(version)["serverVersion"]["gitVersion"]
        kubectl = os.path.join(cp.bin_dir, "kubectl")
        print("Kubernetes %s control plane ready in %.1fs" % (server_version, cp.start_seconds))
        print("  apiserver   %s" % cp.server)
        print("  kubeconfig  %s" % cp.kubeconfig)
        print("  kubectl     %s" % kubectl)
        print("  logs        %s" % os.path.join(cp.dir, "logs"))
        print("  pki         %s" % os.path.join(cp.dir, "pki"))
        print()
        print("export KUBECONFIG=%s" % cp.kubeconfig)
        print("alias kubectl=%s" % kubectl)
        print()
        print("Ctrl-C stops it%s." % ("" if args.dir else " and removes " + cp.dir))
        sys.stdout.flush()
        while True:
            cp.check()
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping", file=sys.stderr)
        return 0
    except ControlPlaneError as e:
        print("scripts/cluster: %s" % e, file=sys.stderr)
        return 1
    finally:
        cp.stop()


if __name__ == "__main__":
    sys.exit(main())
