#!/usr/bin/env bash
# image_test.sh BUILD_DIR SOURCE_DIR
#
# The OCI image scripts/image wrote into BUILD_DIR/image (scripts/test builds
# it; by hand: cmake --install BUILD --prefix BUILD/image/prefix --strip &&
# scripts/image BUILD/image/prefix BUILD/image), read back through umoci from
# its OCI layout, not from the root filesystem it was assembled in:
#  - the layout is tagged with project()'s version and the image's config is
#    the Dockerfile's (exec-form entrypoint /usr/local/bin/ballast, user
#    65532:65532, its command and ports, the OCI labels), and the runtime
#    bundle umoci unpacks runs /usr/local/bin/ballast as 65532:65532;
#  - the image carries BUILD_DIR's ballast (same ELF build ID), no shell, a
#    nonroot user 65532 in /etc/passwd, the CA bundle at OpenSSL's paths and
#    its packages' records for scanners;
#  - in a private mount namespace, with the unpacked root bind-mounted
#    read-only (a write by root fails with EROFS) and chrooted as UID/GID
#    65532 with an empty environment but the image's PATH: `ballast
#    --version` prints the version, `ballast check-config` passes on the
#    image's example config and on a config readable only by UID 65532 under
#    /config, and fails with "Permission denied" on one readable only by root
#    (so the process is neither root nor holds root's capabilities);
#  - `ballast serve` there polls a redis-server on 127.0.0.1 (a Celery
#    backlog of 40, averageValue 10) and serves ballast_recommended_replicas
#    4 on /metrics; /proc shows its UID, GID and groups as 65532 and its root
#    as the image's; over TLS (mode Files, a front-proxy client
#    certificate) its external metrics API answers 4 too; SIGTERM stops it
#    with exit 0.
# Needs root (mount namespaces, chroot); a missing tool or image fails.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
layout=$build/image/oci

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || fail "needs root (a mount namespace and chroot); running as $(id -u)"
for tool in unshare mount chroot readelf /usr/bin/python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing"
done
umoci=$(cd "$src" && source scripts/lib.sh && ballast_umoci) || fail "cannot build umoci (scripts/lib.sh's ballast_umoci)"
want=$(sed -n 's/^project(ballast VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$want" ] || fail "no 'project(ballast VERSION x.y.z' in $src/CMakeLists.txt"
[ -f "$layout/index.json" ] ||
  fail "no OCI layout at $layout (scripts/test builds it: cmake --install $build --prefix $build/image/prefix --strip && scripts/image $build/image/prefix $build/image)"
[ -f "$build/image/ballast-$want.oci.tar" ] || fail "no OCI archive $build/image/ballast-$want.oci.tar"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

# 0. The archive is the layout, file for file.
mkdir "$tmp/archive"
tar -xf "$build/image/ballast-$want.oci.tar" -C "$tmp/archive" ||
  fail "cannot unpack $build/image/ballast-$want.oci.tar"
diff -r "$tmp/archive" "$layout" >"$tmp/archive.diff" ||
  fail "ballast-$want.oci.tar differs from the layout: $(head -n 5 "$tmp/archive.diff")"
rm -rf "$tmp/archive"
echo "ok: ballast-$want.oci.tar holds the layout ($(find "$layout/blobs" -type f | wc -l) blobs)"

# 1. The image's config and manifest, from the layout's blobs.
/usr/bin/python3 - "$layout" "$want" <<'PY' || fail "the image's manifest or config is not the expected one"
import json, os, sys

layout, version = sys.argv[1], sys.argv[2]

def blob(digest):
    algo, hexpart = digest.split(":")
    with open(os.path.join(layout, "blobs", algo, hexpart), "rb") as f:
        return json.load(f)

def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)

with open(os.path.join(layout, "oci-layout")) as f:
    check(json.load(f).get("imageLayoutVersion") == "1.0.0", "oci-layout's imageLayoutVersion is not 1.0.0")
with open(os.path.join(layout, "index.json")) as f:
    index = json.load(f)
tags = [m.get("annotations", {}).get("org.opencontainers.image.ref.name") for m in index["manifests"]]
check(tags == [version], f"the layout's tags are {tags}, want [{version!r}]")
desc = index["manifests"][0]
check(desc["mediaType"] == "application/vnd.oci.image.manifest.v1+json", f"manifest media type {desc['mediaType']}")
manifest = blob(desc["digest"])
check(manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json",
      f"config media type {manifest['config']['mediaType']}")
check(len(manifest["layers"]) == 1, f"{len(manifest['layers'])} layers, want 1")
check(manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip",
      f"layer media type {manifest['layers'][0]['mediaType']}")
image = blob(manifest["config"]["digest"])
config = image["config"]
check(image["os"] == "linux", f"os {image['os']}")
check(config.get("Entrypoint") == ["/usr/local/bin/ballast"],
      f"Entrypoint {config.get('Entrypoint')}, want the exec form ['/usr/local/bin/ballast'] (no shell)")
check(config.get("Cmd") == ["serve", "--config", "/config/ballast.yaml"], f"Cmd {config.get('Cmd')}")
check(config.get("User") == "65532:65532", f"User {config.get('User')!r}, want '65532:65532'")
check(sorted(config.get("ExposedPorts", {})) == ["6443/tcp", "8080/tcp", "9090/tcp"],
      f"ExposedPorts {sorted(config.get('ExposedPorts', {}))}")
labels = config.get("Labels", {})
check(labels.get("org.opencontainers.image.version") == version,
      f"label org.opencontainers.image.version {labels.get('org.opencontainers.image.version')!r}")
check(labels.get("org.opencontainers.image.title") == "ballast", "label org.opencontainers.image.title")
check(image.get("created") == labels.get("org.opencontainers.image.created"),
      f"created {image.get('created')} differs from its label")
check(len(image["rootfs"]["diff_ids"]) == 1, "rootfs.diff_ids")
print(f"ok: {desc['digest']}: {manifest['layers'][0]['size']} bytes compressed, created {image['created']},"
      f" Entrypoint {config['Entrypoint']}, Cmd {config['Cmd']}, User {config['User']}")
PY

# 2. Unpacked by umoci (which checks every blob's digest) into a runtime
# bundle; its runtime config says what a runtime would run.
bundle=$tmp/bundle
"$umoci" unpack --image "$layout:$want" "$bundle" >"$tmp/unpack.log" 2>&1 ||
  fail "umoci unpack --image $layout:$want failed: $(cat "$tmp/unpack.log")"
rootfs=$bundle/rootfs
/usr/bin/python3 - "$bundle/config.json" <<'PY' || fail "umoci's runtime bundle does not run ballast as 65532:65532"
import json, sys
process = json.load(open(sys.argv[1]))["process"]
want_args = ["/usr/local/bin/ballast", "serve", "--config", "/config/ballast.yaml"]
if process["user"].get("uid") != 65532 or process["user"].get("gid") != 65532 or process["args"] != want_args:
    print("FAIL: runtime process", process["user"], process["args"], file=sys.stderr)
    sys.exit(1)
print("ok: umoci's runtime bundle runs", process["args"], "as", process["user"])
PY

# 3. What the filesystem holds.
image_bin=$rootfs/usr/local/bin/ballast
[ -x "$image_bin" ] || fail "the image has no executable /usr/local/bin/ballast"
build_id() { readelf -n "$1" | awk '/Build ID:/ { print $3 }'; }
[ -n "$(build_id "$build/ballast")" ] || fail "$build/ballast has no ELF build ID"
[ "$(build_id "$image_bin")" = "$(build_id "$build/ballast")" ] ||
  fail "the image's ballast (build ID $(build_id "$image_bin")) is not $build/ballast's ($(build_id "$build/ballast")): rebuild the image with scripts/image"
shells=$(cd "$rootfs" && find . \( -name sh -o -name bash -o -name dash -o -name busybox -o -name 'python3*' \) \
  \( -type f -o -type l \) | sort | tr '\n' ' ')
[ -z "$shells" ] || fail "the image has a shell: $shells"
[ -z "$(ls -A "$rootfs/usr/bin")" ] || fail "the image's /usr/bin is not empty: $(ls -A "$rootfs/usr/bin" | tr '\n' ' ')"
grep -qx 'nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin' "$rootfs/etc/passwd" ||
  fail "/etc/passwd has no nonroot user 65532: $(cat "$rootfs/etc/passwd")"
grep -qx 'nonroot:x:65532:' "$rootfs/etc/group" || fail "/etc/group has no nonroot group 65532"
certs=$(grep -c 'BEGIN CERTIFICATE' "$rootfs/etc/ssl/certs/ca-certificates.crt" || true)
[ "$certs" -gt 100 ] || fail "the CA bundle holds $certs certificates"
# OpenSSL's default file (OPENSSLDIR/cert.pem), an absolute link resolved in
# the image.
[ "$(readlink "$rootfs/usr/lib/ssl/cert.pem")" = /etc/ssl/certs/ca-certificates.crt ] ||
  fail "/usr/lib/ssl/cert.pem does not link to the CA bundle"
# Scanners' package records (/var/lib/dpkg/status.d, no dpkg in the image).
for p in libc6 libstdc++6 libssl3 libgrpc29 ca-certificates; do
  record=$rootfs/var/lib/dpkg/status.d/$p
  [ -f "$record" ] && grep -qx "Package: $p" "$record" && grep -q '^Version: ' "$record" &&
    grep -qx 'Status: install ok installed' "$record" ||
    fail "no package record for $p in /var/lib/dpkg/status.d"
done
echo "ok: the image carries $build/ballast (build ID $(build_id "$image_bin")), no shell, user nonroot 65532, $certs CA certificates"

# 4. Run it: read-only root, UID/GID 65532, the image's environment.
cfg=$tmp/config
mkdir "$cfg"
cp "$src/config/example.yaml" "$cfg/mine.yaml"
cp "$src/config/example.yaml" "$cfg/root-only.yaml"
chown 65532:65532 "$cfg/mine.yaml"
chmod 400 "$cfg/mine.yaml" "$cfg/root-only.yaml"
# `ballast serve` in the image, against a redis-server on the host's
# loopback holding a Celery backlog of 40 in queue asr: 40 / averageValue 10
# recommends 4 on /metrics.
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
redis_port=$(free_port)
telemetry_port=$(free_port)
https_port=$(free_port)
# The external metrics API over TLS too (OpenSSL in the image): a serving
# certificate for 127.0.0.1 and a front-proxy CA whose client certificate
# the aggregator's requests carry, as mode Files checks them.
command -v openssl >/dev/null || fail "openssl is missing"
pki=$tmp/pki
mkdir "$pki"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
{
  openssl req -x509 "${ec[@]}" -subj /CN=serving-ca -days 1 -keyout "$pki/ca.key" -out "$pki/ca.crt" &&
    openssl req "${ec[@]}" -subj /CN=127.0.0.1 -keyout "$cfg/tls.key" -out "$pki/tls.csr" &&
    openssl x509 -req -in "$pki/tls.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
      -days 1 -extfile <(echo subjectAltName=IP:127.0.0.1) -out "$cfg/tls.crt" &&
    openssl req -x509 "${ec[@]}" -subj /CN=front-proxy-ca -days 1 -keyout "$pki/fp-ca.key" -out "$cfg/front-proxy-ca.crt" &&
    openssl req "${ec[@]}" -subj /CN=front-proxy-client -keyout "$pki/client.key" -out "$pki/client.csr" &&
    openssl x509 -req -in "$pki/client.csr" -CA "$cfg/front-proxy-ca.crt" -CAkey "$pki/fp-ca.key" \
      -CAcreateserial -days 1 -out "$pki/client.crt"
} >"$pki/openssl.log" 2>&1 || fail "openssl: $(cat "$pki/openssl.log")"
chown 65532:65532 "$cfg/tls.key" "$cfg/tls.crt" "$cfg/front-proxy-ca.crt"
chmod 400 "$cfg/tls.key"
cat >"$cfg/serve.yaml" <<SERVE
sources:
  redis: {main: {address: "127.0.0.1:$redis_port", timeoutMs: 300, connectTimeoutMs: 300}}
server:
  pollIntervalSeconds: 1
  telemetry: {listen: "127.0.0.1:$telemetry_port"}
  externalMetrics:
    listen: "127.0.0.1:$https_port"
    tlsCertFile: /config/tls.crt
    tlsKeyFile: /config/tls.key
    authentication: {mode: Files}
    requestheaderClientCAFile: /config/front-proxy-ca.crt
    requestheaderAllowedNames: [front-proxy-client]
targets:
  - name: asr-worker
    maxReplicas: 20
    currentReplicas: {static: 2}
    inputs:
      - {name: backlog, celery: {source: main, queues: [asr]}, averageValue: 10}
SERVE
chown 65532:65532 "$cfg/serve.yaml"
chmod 400 "$cfg/serve.yaml"
for tool in redis-server redis-cli curl; do
  command -v "$tool" >/dev/null || fail "$tool is missing"
done
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$tmp" >"$tmp/redis.log" 2>&1 &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do
  redis-cli -p "$redis_port" PING >/dev/null 2>&1 && break
  sleep 0.1
done
[ "$(redis-cli -p "$redis_port" RPUSH asr $(seq 40))" = 40 ] ||
  fail "cannot push the backlog to redis-server on 127.0.0.1:$redis_port: $(cat "$tmp/redis.log")"
cat >"$tmp/run.sh" <<'RUN'
set -u
root=$1 cfg=$2 out=$3 chroot=$4
mount --bind "$root" "$root" && mount -o remount,bind,ro "$root" || exit 90
mount --bind "$cfg" "$root/config" && mount -o remount,bind,ro "$root/config" || exit 91
# The write check: root itself cannot write to the image's root.
touch "$root/tmp/probe" 2>"$out/write.err"
echo $? >"$out/write.rc"
run() {
  local name=$1
  shift
  env -i PATH=/usr/local/bin:/usr/bin \
    "$chroot" --userspec=65532:65532 --groups=65532 "$root" "$@" >"$out/$name.out" 2>&1
  echo $? >"$out/$name.rc"
}
run version /usr/local/bin/ballast --version
run example /usr/local/bin/ballast check-config /usr/local/share/ballast/example.yaml
run mine /usr/local/bin/ballast check-config /config/mine.yaml
run root-only /usr/local/bin/ballast check-config /config/root-only.yaml
# The daemon: its /metrics from outside, its credentials and root from /proc
# (env and chroot exec, so the PID is ballast's), then SIGTERM.
env -i PATH=/usr/local/bin:/usr/bin \
  "$chroot" --userspec=65532:65532 --groups=65532 "$root" \
  /usr/local/bin/ballast serve --config /config/serve.yaml >"$out/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$TELEMETRY_PORT/metrics" >"$out/metrics" 2>/dev/null &&
    grep -q '^ballast_recommended_replicas{target="asr-worker"} 4$' "$out/metrics" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
curl -s --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key" \
  -H 'X-Remote-User: system:kube-aggregator' -w '\n%{http_code}\n' \
  "https://127.0.0.1:$HTTPS_PORT/apis/external.metrics.k8s.io/v1beta1/namespaces/default/ballast_recommended_replicas?labelSelector=target%3Dasr-worker" \
  >"$out/https" 2>"$out/https.err"
grep -E '^(Uid|Gid|Groups):' "/proc/$pid/status" >"$out/status" 2>/dev/null
readlink "/proc/$pid/root" >"$out/proc-root" 2>/dev/null
readlink "/proc/$pid/exe" >"$out/proc-exe" 2>/dev/null
kill -TERM "$pid" 2>/dev/null
wait "$pid"
echo $? >"$out/serve.rc"
RUN
out=$tmp/out
mkdir "$out"
TELEMETRY_PORT=$telemetry_port HTTPS_PORT=$https_port PKI=$pki unshare --mount --propagation private bash "$tmp/run.sh" "$rootfs" "$cfg" "$out" "$(command -v chroot)" ||
  fail "the mount namespace failed (exit $?): bind-mounting the image's root read-only"
[ "$(cat "$out/write.rc")" != 0 ] || fail "root could write to the image's read-only root"
grep -q 'Read-only file system' "$out/write.err" ||
  fail "a write to the image's root failed, but not as read-only: $(cat "$out/write.err")"
[ ! -e "$rootfs/tmp/probe" ] || fail "the probe file was written"
echo "ok: the root is read-only: $(cat "$out/write.err")"
result() { echo "exit $(cat "$out/$1.rc"): $(cat "$out/$1.out")"; }
[ "$(cat "$out/version.rc")" = 0 ] && [ "$(cat "$out/version.out")" = "ballast $want" ] ||
  fail "'ballast --version' in the image: $(result version), want 'ballast $want'"
echo "ok: ballast --version in the image as 65532:65532: $(cat "$out/version.out")"
[ "$(cat "$out/example.rc")" = 0 ] ||
  fail "'ballast check-config /usr/local/share/ballast/example.yaml' in the image: $(result example)"
echo "ok: check-config on the image's example.yaml: $(result example)"
[ "$(cat "$out/mine.rc")" = 0 ] ||
  fail "check-config on a config only UID 65532 may read: $(result mine)"
echo "ok: check-config reads /config/mine.yaml (0400, owned by 65532:65532)"
[ "$(cat "$out/root-only.rc")" = 1 ] && grep -q 'Permission denied' "$out/root-only.out" ||
  fail "check-config on a config only root may read should fail with 'Permission denied': $(result root-only)"
echo "ok: check-config cannot read /config/root-only.yaml (0400, root's): $(cat "$out/root-only.out")"
grep -q '^ballast_recommended_replicas{target="asr-worker"} 4$' "$out/metrics" ||
  fail "ballast serve in the image did not recommend 4 on /metrics (127.0.0.1:$telemetry_port): $(grep -E '^ballast_(recommended_replicas|input_value)' "$out/metrics" 2>/dev/null); log: $(tail -n 5 "$out/serve.log")"
echo "ok: ballast serve in the image read the backlog of 40 from redis-server and serves $(grep '^ballast_recommended_replicas' "$out/metrics")"
[ "$(tail -n 1 "$out/https")" = 200 ] &&
  /usr/bin/python3 - "$out/https" <<'PY' ||
import json, sys
body = open(sys.argv[1]).read().rsplit("\n", 2)[0]
items = json.loads(body)["items"]
values = [(i["metricName"], i["metricLabels"].get("target"), i["value"]) for i in items]
if values != [("ballast_recommended_replicas", "asr-worker", "4")]:
    print("FAIL: external metrics items", values, file=sys.stderr)
    sys.exit(1)
print("ok: the external metrics API over TLS (as the aggregator, front-proxy client certificate):", values)
PY
  fail "GET of ballast_recommended_replicas on https://127.0.0.1:$https_port: $(cat "$out/https" "$out/https.err")"
printf 'Uid:\t65532\t65532\t65532\t65532\nGid:\t65532\t65532\t65532\t65532\nGroups:\t65532 \n' >"$tmp/want-status"
diff <(tr -s ' \t' ' ' <"$out/status" | sed 's/ $//') <(tr -s ' \t' ' ' <"$tmp/want-status" | sed 's/ $//') >/dev/null ||
  fail "ballast serve's credentials in /proc are not 65532's: $(tr '\n' ' ' <"$out/status")"
[ "$(cat "$out/proc-root")" = "$rootfs" ] || fail "ballast serve's root is $(cat "$out/proc-root"), not the image's $rootfs"
echo "ok: /proc says ballast serve ran as $(tr -s '\t\n' '  ' <"$out/status")with root $(cat "$out/proc-root") and exe $(cat "$out/proc-exe")"
[ "$(cat "$out/serve.rc")" = 0 ] || fail "ballast serve exited $(cat "$out/serve.rc") on SIGTERM: $(tail -n 5 "$out/serve.log")"
echo "ok: ballast serve stopped on SIGTERM with exit 0"
[ ! -e "$rootfs/tmp/probe" ] && [ -z "$(ls -A "$rootfs/tmp")" ] || fail "something was written to the image's /tmp"

echo "PASS"
