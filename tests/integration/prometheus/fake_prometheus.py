#!/usr/bin/python3
"""A stand-in for Prometheus' /api/v1/query that misbehaves on request.

Faults a real Prometheus cannot be made to produce, chosen by the `query`
parameter (GET or form POST):
  value:<v>[:pad]  a scalar <v> at once (pad: anything, to make it long)
  sleep:<s>:<v>    the scalar <v> after <s> seconds
  garbage          200 with an HTML body
  truncated        a Content-Length of 1000, then 100 bytes and a close
  oversize:<n>     200 with a JSON body of <n> bytes
GET /stats returns what it saw: connections accepted, the most requests
handled at once, and the method, Content-Type, Authorization and query of
the last query. Usage: fake_prometheus.py PORT [IDLE_TIMEOUT_SECONDS]
"""
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
stats = {"connections": 0, "in_flight": 0, "max_in_flight": 0, "last": {}}


def scalar(value):
    return json.dumps({"status": "success",
                       "data": {"resultType": "scalar",
                                "result": [time.time(), value]}}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with lock:
            stats["connections"] += 1

    def log_message(self, *args):
        pass

    def send(self, code, body, content_type="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/stats":
            with lock:
                self.send(200, json.dumps(stats).encode())
            return
        self.query(urllib.parse.parse_qs(url.query))

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        self.query(urllib.parse.parse_qs(body))

    def query(self, params):
        query = params.get("query", [""])[0]
        with lock:
            stats["in_flight"] += 1
            stats["max_in_flight"] = max(stats["max_in_flight"],
                                         stats["in_flight"])
            stats["last"] = {
                "method": self.command,
                "content_type": self.headers.get("Content-Type", ""),
                "authorization": self.headers.get("Authorization", ""),
                "user_agent": self.headers.get("User-Agent", ""),
                "query": query,
                "time": params.get("time", [""])[0],
                "timeout": params.get("timeout", [""])[0],
            }
        try:
            self.answer(query)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            with lock:
                stats["in_flight"] -= 1

    def answer(self, query):
        kind, _, arg = query.partition(":")
        if kind == "value":
            self.send(200, scalar(arg.partition(":")[0]))
        elif kind == "sleep":
            seconds, _, value = arg.partition(":")
            time.sleep(float(seconds))
            self.send(200, scalar(value or "1"))
        elif kind == "garbage":
            self.send(200, b"<html><body>It works!</body></html>", "text/html")
        elif kind == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(scalar("1")[:100])
            self.close_connection = True
        elif kind == "oversize":
            pad = int(arg)
            head = b'{"status":"success","padding":"'
            tail = b'","data":{"resultType":"scalar","result":[1,"1"]}}'
            self.send(200, head + b"x" * (pad - len(head) - len(tail)) + tail)
        else:
            self.send(400, json.dumps({"status": "error",
                                       "errorType": "bad_data",
                                       "error": "unknown fault"}).encode())


def main():
    port = int(sys.argv[1])
    if len(sys.argv) > 2:
        # Idle keep-alive connections are closed after this long.
        Handler.timeout = float(sys.argv[2])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
