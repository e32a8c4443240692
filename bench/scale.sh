#!/usr/bin/env bash
# The scale scenario in one command: `ballast serve` ticking N targets
# (default 10,000) against a real redis-server; see bench/scale.py and
# bench/README.md ("Scale: one command").
#
#   bench/scale.sh [--targets N] [--poll S] [--duration S]
#                  [--ballast BIN] [--baseline OLD_BIN]
#
# Needs redis-server, redis-benchmark and openssl (apt-get install -y
# redis-server openssl) and a Release build:
#   source scripts/lib.sh && ballast_build build-release -DCMAKE_BUILD_TYPE=Release
set -euo pipefail
exec /usr/bin/python3 "$(cd "$(dirname "$0")" && pwd)/scale.py" "$@"
