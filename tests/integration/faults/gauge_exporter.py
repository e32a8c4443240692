#!/usr/bin/python3
"""An exporter of one gauge whose value a test sets through a file.

GET /metrics answers `ballast_test_backlog <the number in FILE>` (the file
read at each scrape; a test replaces it with a rename).
Usage: gauge_exporter.py PORT FILE
"""
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        with open(self.server.value_file) as f:
            value = float(f.read().strip())
        body = ("# TYPE ballast_test_backlog gauge\n"
                f"ballast_test_backlog {value}\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    server = HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.value_file = sys.argv[2]
    server.serve_forever()


if __name__ == "__main__":
    main()
