#!/usr/bin/env bash
# External metrics API throughput: ballast's server (TLS, 10 targets, one
# io_context thread) against nginx serving the same JSON as a static file
# over the same certificate (one worker), both measured by wrk in the same
# run with the same settings.
#
#   bench/external_metrics_bench.sh [BUILD_DIR] [WRK_ARGS...]
#   BUILD_DIR defaults to build-release; build it first:
#     cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release
#     cmake --build build-release --target external_metrics_server_bench
#   WRK_ARGS default to: -t2 -c32 -d10s
#
# wrk cannot present a client certificate, so the benchmark binary runs
# with --trust_all_clients_for_benchmark (an option of the bench binary
# only; `ballast serve` always authenticates). The server still asks for a
# client certificate, as in production, and so does nginx
# (ssl_verify_client optional).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
build=${1:-$repo/build-release}
shift || true
wrk_args=("$@")
[[ ${#wrk_args[@]} -gt 0 ]] || wrk_args=(-t2 -c32 -d10s)

server_bin=$build/bench/external_metrics_server_bench
for bin in "$server_bin" "$(command -v wrk)" "$(command -v nginx || echo /usr/sbin/nginx)" \
           "$(command -v openssl)"; do
  [[ -x $bin ]] || { echo "missing: $bin" >&2; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Certificates: a serving CA and certificate, and a front-proxy CA.
ossl() { openssl "$@" >/dev/null 2>&1; }
curve=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
ossl req -x509 "${curve[@]}" -keyout "$work/ca.key" -out "$work/ca.crt" -days 2 -subj /CN=serving-ca
ossl req -x509 "${curve[@]}" -keyout "$work/proxy-ca.key" -out "$work/proxy-ca.crt" -days 2 -subj /CN=front-proxy-ca
ossl req -new "${curve[@]}" -keyout "$work/server.key" -out "$work/server.csr" -subj /CN=ballast
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$work/server.ext"
ossl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
  -out "$work/server.crt" -days 2 -extfile "$work/server.ext"

path='/apis/external.metrics.k8s.io/v1beta1/namespaces/default/ballast_recommended_replicas?labelSelector=target%3Dworker-3'
mkdir -p "$work/www" "$work/tmp"

"$server_bin" --cert "$work/server.crt" --key "$work/server.key" --client_ca "$work/proxy-ca.crt" \
  --trust_all_clients_for_benchmark --threads 1 --targets 10 \
  --dump_path "$path" --dump_file "$work/www/metric.json" > "$work/ballast.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^port ' "$work/ballast.out" && break; sleep 0.1; done
ballast_port=$(awk '/^port /{print $2}' "$work/ballast.out")
[[ -n $ballast_port ]] || { cat "$work/ballast.out" >&2; exit 1; }

nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s|@WORK@|$work|g" -e "s|@PORT@|$nginx_port|g" -e "s|@CERT@|$work/server.crt|g" \
    -e "s|@KEY@|$work/server.key|g" -e "s|@CLIENT_CA@|$work/proxy-ca.crt|g" \
    "$here/nginx/external_metrics.conf.template" > "$work/nginx.conf"
chmod -R a+rX "$work"  # nginx workers may run as nobody
"$nginx_bin" -p "$work" -e "$work/nginx-error.log" -c "$work/nginx.conf" &
pids+=($!)
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null && break; sleep 0.1
done

# The two must serve the same bytes.
a=$(curl -sk "https://127.0.0.1:$ballast_port$path")
b=$(curl -sk "https://127.0.0.1:$nginx_port$path")
[[ "$a" == "$b" ]] || { echo "responses differ:"; echo "$a"; echo "$b"; exit 1; } >&2
echo "body (${#a} bytes): $a"

run() {  # name port -> prints "name rps p50 p99"
  local out
  out=$(wrk "${wrk_args[@]}" --latency "https://127.0.0.1:$2$path")
  echo "$out" > "$work/wrk-$1.txt"
  local rps p50 p99
  rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
  p50=$(awk '$1=="50%"{print $2}' <<<"$out")
  p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  local errors
  errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
  printf '%-8s %12s req/s   p50 %-9s p99 %-9s %s\n' "$1" "$rps" "$p50" "$p99" "$errors"
  echo "$rps" > "$work/rps-$1"
}

echo "wrk ${wrk_args[*]} --latency https://127.0.0.1:PORT$path"
run ballast "$ballast_port"
run nginx "$nginx_port"
awk -v a="$(cat "$work/rps-ballast")" -v b="$(cat "$work/rps-nginx")" \
  'BEGIN { printf "ratio ballast/nginx: %.2f\n", a / b }'
