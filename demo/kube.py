"""Reads Deployments and HPAs from the demo's Kubernetes API server (standard
library only), for `scripts/demo --cluster`.

demo/cluster.py writes a JSON file describing the control plane it runs:
the API server's URL, the admin's client certificate and the cluster CA
(paths), and per ballast target the namespace, Deployment and HPA that
stand for it. The fleet and the TTS stand-in follow a Deployment's
spec.replicas (which the HPA sets); watch.py shows the HPA's view.

    kube = Kube.load(INFO_JSON)
    kube.spec_replicas("asr-worker")     # None when the API server does not answer
    kube.view("asr-worker")              # {"spec": 4, "pods": 4, "desired": 4, ...}
"""
import json
import ssl
import urllib.request


class Kube:
    def __init__(self, info):
        self.info = info
        self.server = info["server"]
        self.workloads = info["workloads"]  # target -> {namespace, deployment, hpa}
        self.tls = ssl.create_default_context(cafile=info["ca"])
        self.tls.load_cert_chain(info["cert"], info["key"])

    @classmethod
    def load(cls, path):
        with open(path) as f:
            return cls(json.load(f))

    def get(self, path, timeout=2.0):
        """The JSON object at `path`; raises OSError (HTTP errors included)
        or ValueError."""
        with urllib.request.urlopen(self.server + path, context=self.tls,
                                    timeout=timeout) as r:
            return json.loads(r.read())

    def deployment(self, target):
        w = self.workloads[target]
        return self.get("/apis/apps/v1/namespaces/%s/deployments/%s"
                        % (w["namespace"], w["deployment"]))

    def hpa(self, target):
        w = self.workloads[target]
        return self.get("/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers/%s"
                        % (w["namespace"], w["hpa"]))

    def spec_replicas(self, target):
        """The replicas the target's Deployment asks for (the HPA sets them),
        or None when the API server does not answer."""
        try:
            return int(self.deployment(target)["spec"]["replicas"])
        except (OSError, ValueError, KeyError):
            return None

    def view(self, target):
        """The HPA's and the Deployment's view of a target (a key is missing
        when its read failed or the field is not set yet):
          desired   HPA status.desiredReplicas     current  HPA status.currentReplicas
          spec      Deployment spec.replicas       pods     Deployment status.replicas
          active    the HPA's ScalingActive condition, "True" or "False:<reason>"
        """
        view = {}
        try:
            hpa = self.hpa(target)
            status = hpa.get("status", {})
            for key, field in (("desired", "desiredReplicas"), ("current", "currentReplicas")):
                if field in status:
                    view[key] = status[field]
            for c in status.get("conditions", []):
                if c["type"] == "ScalingActive":
                    view["active"] = c["status"] + (
                        "" if c["status"] == "True" else ":" + c.get("reason", "?"))
        except (OSError, ValueError, KeyError):
            pass
        try:
            deployment = self.deployment(target)
            view["spec"] = deployment["spec"]["replicas"]
            view["pods"] = deployment.get("status", {}).get("replicas", 0)
        except (OSError, ValueError, KeyError):
            pass
        return view
