#!/usr/bin/env bash
# The HPA path under load, beside nginx, while ballast ticks N targets; and
# KEDA's GetMetrics. See bench/hpa_load.py and bench/README.md ("The HPA
# path under load").
#
#   bench/hpa_load.sh [--ballast BIN] [--baseline OLD_BIN] [--targets N]
#                     [--rates 1000,5000] [--duration 60] [--max-seconds 15]
#
# Needs redis-server, redis-benchmark, openssl, nginx (apt-get install -y
# redis-server openssl nginx), Go at /usr/local/go/bin (vegeta and grpcload
# are built from tools/bench into ~/.cache/ballast) and a Release build:
#   source scripts/lib.sh && ballast_build build-release -DCMAKE_BUILD_TYPE=Release
set -euo pipefail
exec /usr/bin/python3 "$(cd "$(dirname "$0")" && pwd)/hpa_load.py" "$@"
