#!/usr/bin/python3
"""A stand-in for kube-apiserver's Deployment scale subresource, over TLS.

GET /apis/apps/v1/namespaces/NS/deployments/NAME/scale answers like the
real API server: 401 unless "Authorization: Bearer <token>" matches the
contents of TOKEN_FILE (read per request, so a test can rotate it); 403 in
namespace "forbidden"; 404 for deployments not given on the command line;
else a Scale object. Status bodies are Kubernetes Status objects.
Usage: fake_apiserver.py PORT CERT KEY TOKEN_FILE NS/NAME=SPEC:STATUS ...
"""
import json
import re
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCALE_PATH = re.compile(
    r"^/apis/apps/v1/namespaces/([^/]+)/deployments/([^/]+)/scale$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    token_file = ""
    deployments = {}

    def log_message(self, *args):
        pass

    def send(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def status(self, code, reason, message):
        self.send(code, {"kind": "Status", "apiVersion": "v1",
                         "metadata": {}, "status": "Failure",
                         "message": message, "reason": reason, "code": code})

    def do_GET(self):
        with open(self.token_file) as f:
            token = f.read().strip()
        if self.headers.get("Authorization", "") != "Bearer " + token:
            self.status(401, "Unauthorized", "Unauthorized")
            return
        match = SCALE_PATH.match(self.path)
        if not match:
            self.status(404, "NotFound", "the server could not find the "
                        "requested resource")
            return
        ns, name = match.groups()
        if ns == "forbidden":
            self.status(403, "Forbidden",
                        f'deployments.apps "{name}" is forbidden: User '
                        '"system:serviceaccount:ballast:ballast" cannot get '
                        'resource "deployments/scale" in API group "apps" in '
                        f'the namespace "{ns}"')
            return
        if (ns, name) not in self.deployments:
            self.status(404, "NotFound",
                        f'deployments.apps "{name}" not found')
            return
        spec, status = self.deployments[(ns, name)]
        self.send(200, {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": spec},
            "status": {"replicas": status, "selector": "app=" + name}})


def main():
    port, cert, key, token_file = sys.argv[1:5]
    Handler.token_file = token_file
    for arg in sys.argv[5:]:
        ref, counts = arg.split("=")
        ns, name = ref.split("/")
        spec, status = counts.split(":")
        Handler.deployments[(ns, name)] = (int(spec), int(status))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
