#!/usr/bin/env bash
# install_test.sh BUILD_DIR SOURCE_DIR
#
# What can be checked of the install rules and the Dockerfile without Docker:
# `cmake --install` into a staging prefix gives bin/ballast and the example
# config; ldd finds every library; every library ldd lists comes from a package
# on the Dockerfile's runtime apt-get line (and each package there is needed);
# `ballast --version` prints project()'s version, and k8s/ballast.yaml's image
# tag and version label say it too; the installed binary checks the installed
# example config from a read-only working directory, without HOME, as the
# image's numeric user when run as root.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
dockerfile=$src/Dockerfile

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

tmp=$(mktemp -d)
cleanup() {
  chmod -R u+w "$tmp" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
# Readable by the unprivileged user the last check runs as.
chmod 755 "$tmp"
stage=$tmp/stage

# 1. cmake --install.
[ -x "$build/ballast" ] || fail "$build/ballast is not built (build the 'ballast' target first)"
cmake --install "$build" --prefix "$stage" >"$tmp/install.log" 2>&1 ||
  fail "cmake --install $build --prefix $stage failed: $(cat "$tmp/install.log")"
bin=$stage/bin/ballast
example=$stage/share/ballast/example.yaml
[ -x "$bin" ] || fail "cmake --install did not install an executable bin/ballast"
[ -f "$example" ] || fail "cmake --install did not install share/ballast/example.yaml"
echo "ok: installed $(cd "$stage" && find . -type f | sort | tr '\n' ' ')"

# 2. ldd finds every library.
ldd "$bin" >"$tmp/ldd.txt" 2>&1 || fail "ldd $bin failed: $(cat "$tmp/ldd.txt")"
if grep -q 'not found' "$tmp/ldd.txt"; then
  fail "ldd $bin cannot find: $(grep 'not found' "$tmp/ldd.txt" | tr -s ' \t' ' ')"
fi
echo "ok: ldd finds all $(wc -l <"$tmp/ldd.txt") entries"

# 3. The Dockerfile's runtime packages: the one `apt-get install` of its last
# stage (continuation lines joined, options and what follows `&&` dropped).
[ -f "$dockerfile" ] || fail "no Dockerfile at $dockerfile"
awk '/^FROM[ \t]/ { stage = "" } { stage = stage $0 "\n" } END { printf "%s", stage }' \
  "$dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' >"$tmp/runtime_stage"
head -n 1 "$tmp/runtime_stage" | grep -Eq '^FROM[ \t]+debian:12-slim([ \t]|$)' ||
  fail "the Dockerfile's last stage is not FROM debian:12-slim: $(head -n 1 "$tmp/runtime_stage")"
installs=$(grep -c 'apt-get install' "$tmp/runtime_stage" || true)
[ "$installs" = 1 ] ||
  fail "expected one 'apt-get install' in the Dockerfile's runtime stage, found $installs"
runtime_packages=()
for word in $(grep 'apt-get install' "$tmp/runtime_stage" | sed -e 's/.*apt-get install//' -e 's/&&.*//'); do
  case $word in -*) ;; *) runtime_packages+=("$word") ;; esac
done
[ ${#runtime_packages[@]} -gt 0 ] || fail "no packages on the Dockerfile's runtime apt-get install line"
echo "ok: Dockerfile runtime packages: ${runtime_packages[*]}"

in_runtime() {
  local p
  for p in "${runtime_packages[@]}"; do [ "$p" = "$1" ] && return 0; done
  return 1
}

# The package that ships a library; with merged /usr, ldd may name /lib/...
# where dpkg recorded /usr/lib/... or the other way round.
package_of() {
  local path=$1 candidate out
  for candidate in "$path" "/usr$path" "${path#/usr}" "$(readlink -f "$path")"; do
    if out=$(dpkg -S "$candidate" 2>/dev/null); then
      # "libfoo1:amd64: /path" (or "a, b: /path" for diverted files).
      out=${out%%: /*}
      out=${out%%,*}
      echo "${out%%:*}"
      return 0
    fi
  done
  return 1
}

# Each library ldd resolved to a file: "name => /path (addr)" or the loader's
# "/path (addr)"; linux-vdso has no file.
needed_packages=()
while read -r lib; do
  pkg=$(package_of "$lib") || fail "dpkg -S finds no package that ships $lib"
  in_runtime "$pkg" ||
    fail "$lib comes from the Debian package $pkg, which the Dockerfile's runtime apt-get install does not list"
  needed_packages+=("$pkg")
done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' "$tmp/ldd.txt")
echo "ok: every library ldd lists comes from a runtime package (libraries per package:" \
  "$(printf '%s\n' "${needed_packages[@]}" | sort | uniq -c | awk '{ printf "%s%s %d", sep, $2, $1; sep = ", " }'))"

# ...and every runtime package is needed: it ships one of those libraries, or
# it is ca-certificates (TLS to Redis, Prometheus and the Kubernetes API).
for p in "${runtime_packages[@]}"; do
  [ "$p" = ca-certificates ] && continue
  found=0
  for n in "${needed_packages[@]}"; do [ "$n" = "$p" ] && found=1 && break; done
  [ $found = 1 ] || fail "the Dockerfile's runtime package $p ships no library ldd lists for ballast"
done
echo "ok: every runtime package is needed"

# 4. --version prints project()'s version; the manifest names it.
want=$(sed -n 's/^project(ballast VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$want" ] || fail "no 'project(ballast VERSION x.y.z' in $src/CMakeLists.txt"
got=$("$bin" --version) || fail "'ballast --version' exited $?"
[ "$got" = "ballast $want" ] ||
  fail "'ballast --version' printed '$got', want 'ballast $want' (CMakeLists.txt's project version)"
echo "ok: $got"
# The manifest cannot include the generated header: its image tag and version
# label must say the same version.
manifest=$src/k8s/ballast.yaml
for want_line in "image: ballast:$want" "app.kubernetes.io/version: \"$want\""; do
  grep -qF "$want_line" "$manifest" ||
    fail "$manifest has no '$want_line' (CMakeLists.txt's project version)"
done
stale=$(grep -nE 'image: ballast:|app\.kubernetes\.io/version:' "$manifest" |
  grep -vF -e "ballast:$want" -e "version: \"$want\"" || true)
[ -z "$stale" ] || fail "$manifest names another version: $stale"
echo "ok: k8s/ballast.yaml says $want"

# 5. check-config on the installed example from a read-only working directory
# without HOME; as root, as UID/GID 65532 (the image's user), whom the
# read-only directory really stops.
ro=$tmp/ro
mkdir "$ro"
chmod 555 "$ro"
as_image_user=()
if [ "$(id -u)" = 0 ]; then
  command -v setpriv >/dev/null || fail "running as root needs setpriv to drop to UID 65532"
  as_image_user=(setpriv --reuid=65532 --regid=65532 --clear-groups)
fi
status=0
(cd "$ro" && env -u HOME "${as_image_user[@]}" "$bin" check-config "$example") \
  >"$tmp/check.out" 2>&1 || status=$?
[ $status = 0 ] ||
  fail "'ballast check-config $example' in a read-only directory exited $status: $(cat "$tmp/check.out")"
[ -z "$(ls -A "$ro")" ] || fail "check-config wrote into its working directory: $(ls -A "$ro")"
echo "ok: check-config on the installed example.yaml from a read-only directory, HOME unset${as_image_user[*]:+, as 65532:65532}"

echo "PASS"
