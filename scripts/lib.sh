# Shared helpers for scripts/test and scripts/demo. Source it; do not run it.

# Debian packages ballast needs to build, test and run its demo.
# clang-tidy-16 (with clang-16, whose clang++-16 -E makes scripts/tidy's cache
# keys): clang-tidy 14 could not parse three of src/'s files.
BALLAST_PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-format clang-tidy-16 clang-16 ccache
  libabsl-dev libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev libhiredis-dev libboost-dev libssl-dev rapidjson-dev openssl curl
  redis-server prometheus libfaketime
  python3 python3-celery python3-redis python3-prometheus-client python3-grpcio
  python3-yaml  # the chart's tests parse rendered manifests
)

# Installs whatever is missing, with apt-get (apt-get update first). Quick
# when everything is already there.
ballast_ensure_packages() {
  local missing=()
  local p
  for p in "${BALLAST_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "installing: ${missing[*]}" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# ballast_configure DIR [cmake args...]: configure DIR (once).
ballast_configure() {
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    # ccache: a CI run in a fresh clone reuses what earlier builds compiled.
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_COMPILER_LAUNCHER=ccache "$@"
  fi
}

# ccache: compile results are shared between checkouts (CI builds in a fresh
# clone elsewhere): paths under the checkout are hashed relative to it, and
# the working directory (in the debug info) is not hashed.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(pwd)}"
export CCACHE_NOHASHDIR=1

# ballast_build DIR [cmake args...]: configure (once) and build.
ballast_build() {
  ballast_configure "$@" || return
  cmake --build "$1" -j "$(nproc)"
}

# The commands every control plane directory holds, by binary name.
BALLAST_CLUSTER_TOOLS=(kube-apiserver kube-controller-manager kubectl etcd)

# The Kubernetes minor versions the cluster tests run, oldest first: the
# first is tests/cluster's module (every command, etcd included); each other
# is tests/cluster/v<minor>'s, which builds the commands its tools.go imports
# and takes the rest (etcd, and kubectl unless it builds its own) from the
# first's directory.
BALLAST_CLUSTER_VERSIONS=(1.35 1.37)

# _ballast_cluster_complete BIN: whether BIN holds every command.
_ballast_cluster_complete() {
  local t
  for t in "${BALLAST_CLUSTER_TOOLS[@]}"; do
    [ -x "$1/$t" ] || return 1
  done
}

# ballast_cluster_binaries [MINOR]: builds the Kubernetes control plane the
# cluster tests run (kube-apiserver, kube-controller-manager, kubectl, etcd)
# from the Go module of Kubernetes MINOR (default: the first of
# BALLAST_CLUSTER_VERSIONS, tests/cluster; 1.37: tests/cluster/v1.37) and
# prints the directory holding them on stdout; everything else goes to
# stderr.
#
# The binaries live in ${XDG_CACHE_HOME:-$HOME/.cache}/ballast/cluster-<hash>/bin,
# <hash> covering the files that decide what gets built (go.mod, go.sum,
# etcd/main.go; for another minor its go.mod, go.sum, tools.go and the first
# one's directory), so a warm run only checks that they are there. A build
# goes to a temporary directory renamed into place once complete, under a
# lock: concurrent callers wait for one build instead of racing (a cold build
# keeps every core busy for many minutes). Go is /usr/local/go/bin/go unless
# BALLAST_GO names another; its module and build caches (shared by every
# version: the second one recompiles only what changed) make rebuilds fast.
ballast_cluster_binaries() {
  local minor=${1:-${BALLAST_CLUSTER_VERSIONS[0]}}
  local top
  top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/cluster" && pwd) || return 1
  local src hash base=""
  if [ "$minor" = "${BALLAST_CLUSTER_VERSIONS[0]}" ]; then
    src=$top
    hash=$(cat "$src/go.mod" "$src/go.sum" "$src/etcd/main.go" | sha256sum | cut -c1-16)
  else
    src=$top/v$minor
    if [ ! -f "$src/go.mod" ]; then
      echo "ballast_cluster_binaries: no Go module for Kubernetes $minor ($src/go.mod);" \
        "the versions are ${BALLAST_CLUSTER_VERSIONS[*]}" >&2
      return 1
    fi
    base=$(ballast_cluster_binaries) || return 1
    hash=$( (cat "$src/go.mod" "$src/go.sum" "$src/tools.go" && echo "$base") |
      sha256sum | cut -c1-16)
  fi
  local root=${XDG_CACHE_HOME:-$HOME/.cache}/ballast/cluster-$hash
  local bin=$root/bin
  if _ballast_cluster_complete "$bin"; then
    echo "$bin"
    return 0
  fi

  mkdir -p "$root" || return 1
  local lock status=0
  exec {lock}>"$root/lock" || return 1
  flock "$lock"
  # Another caller may have finished the build while this one waited.
  if ! _ballast_cluster_complete "$bin"; then
    _ballast_cluster_build "$src" "$root" "$base" || status=$?
  fi
  exec {lock}>&-
  [ "$status" -eq 0 ] || return "$status"
  echo "$bin"
}

# _ballast_cluster_build SRC ROOT [BASE]: go build of the control plane from
# module SRC into ROOT/bin, holding ROOT's lock. SRC's tools.go names the
# Kubernetes commands; without BASE, ./etcd too; with BASE (the first
# version's bin directory), the commands not built are symbolic links to
# BASE's.
_ballast_cluster_build() {
  local src=$1 root=$2 base=${3:-}
  local go=${BALLAST_GO:-/usr/local/go/bin/go}
  if [ ! -x "$go" ]; then
    echo "ballast_cluster_binaries: no Go toolchain at $go" >&2
    return 1
  fi
  # Stamp the Kubernetes version the module pins, as a release build does, so
  # `kube-apiserver --version` and `kubectl version` report it.
  local version major minor
  version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }
    $1 == "require" && $2 == "k8s.io/kubernetes" { print $3; exit }' "$src/go.mod")
  IFS=. read -r major minor _ <<<"${version#v}"
  local ldflags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major"
    ldflags+=" -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  local packages
  mapfile -t packages < <(sed -n 's|^[[:space:]]*_ "\(k8s.io/kubernetes/cmd/[a-z-]*\)"$|\1|p' "$src/tools.go")
  if [ ${#packages[@]} -eq 0 ]; then
    echo "ballast_cluster_binaries: $src/tools.go names no k8s.io/kubernetes/cmd/ command" >&2
    return 1
  fi
  [ -n "$base" ] || packages+=(./etcd)

  # Left by builds that were interrupted (this caller holds the lock).
  rm -rf "$root"/bin.tmp.*
  local tmp
  tmp=$(mktemp -d "$root/bin.tmp.XXXXXX") || return 1
  echo "building the Kubernetes $version control plane into $root/bin" \
    "(${packages[*]##*/}; from empty Go caches this takes a long time)" >&2
  local started=$SECONDS
  if ! (cd "$src" && "$go" build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$tmp/" \
    "${packages[@]}") >&2; then
    echo "ballast_cluster_binaries: go build failed" >&2
    rm -rf "$tmp"
    return 1
  fi
  local t
  for t in "${BALLAST_CLUSTER_TOOLS[@]}"; do
    if [ ! -e "$tmp/$t" ] && [ -n "$base" ]; then
      ln -s "$base/$t" "$tmp/$t"
    fi
  done
  chmod 755 "$tmp"
  # An incomplete bin directory (a binary deleted by hand) is replaced whole.
  rm -rf "$root/bin"
  mv -T "$tmp" "$root/bin"
  echo "built the control plane in $((SECONDS - started))s" >&2
}

# ballast_umoci: builds umoci, the OCI image tool scripts/image writes the
# image with and tests/image unpacks it with, from the Go module pinned in
# tools/image (go.mod's tool directive) and prints its path on stdout. Cached
# in ${XDG_CACHE_HOME:-$HOME/.cache}/ballast/umoci-<hash>/bin/umoci, <hash>
# covering go.mod and go.sum; built under a lock into a temporary file moved
# into place, as ballast_cluster_binaries does.
ballast_umoci() {
  local src
  src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools/image" && pwd) || return 1
  local hash
  hash=$(cat "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-16)
  local root=${XDG_CACHE_HOME:-$HOME/.cache}/ballast/umoci-$hash
  local bin=$root/bin/umoci
  if [ -x "$bin" ]; then
    echo "$bin"
    return 0
  fi
  local go=${BALLAST_GO:-/usr/local/go/bin/go}
  if [ ! -x "$go" ]; then
    echo "ballast_umoci: no Go toolchain at $go" >&2
    return 1
  fi
  mkdir -p "$root/bin" || return 1
  local lock status=0
  exec {lock}>"$root/lock" || return 1
  flock "$lock"
  if [ ! -x "$bin" ]; then
    echo "building umoci from tools/image/go.mod into $root/bin" >&2
    local started=$SECONDS
    rm -f "$root"/bin/umoci.tmp.*
    if (cd "$src" && "$go" build -trimpath -buildvcs=false -ldflags "-s -w" \
      -o "$bin.tmp.$$" github.com/opencontainers/umoci/cmd/umoci) >&2; then
      mv -f "$bin.tmp.$$" "$bin"
      echo "built umoci in $((SECONDS - started))s" >&2
    else
      echo "ballast_umoci: go build failed" >&2
      rm -f "$bin.tmp.$$"
      status=1
    fi
  fi
  exec {lock}>&-
  [ "$status" -eq 0 ] || return "$status"
  echo "$bin"
}

# ballast_helm_binary: builds helm from its Go module (tests/helm/go.mod pins
# helm.sh/helm/v4) and prints the path of the binary on stdout; everything
# else goes to stderr. Cached in
# ${XDG_CACHE_HOME:-$HOME/.cache}/ballast/helm-<hash>/bin/helm, <hash> covering
# tests/helm's go.mod and go.sum, built under a lock and renamed into place
# once complete, as ballast_cluster_binaries does; it shares Go's module and
# build caches with it.
ballast_helm_binary() {
  local src
  src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/helm" && pwd) || return 1
  local hash
  hash=$(cat "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-16)
  local root=${XDG_CACHE_HOME:-$HOME/.cache}/ballast/helm-$hash
  if [ -x "$root/bin/helm" ]; then
    echo "$root/bin/helm"
    return 0
  fi
  mkdir -p "$root" || return 1
  local lock status=0
  exec {lock}>"$root/lock" || return 1
  flock "$lock"
  if [ ! -x "$root/bin/helm" ]; then
    _ballast_helm_build "$src" "$root" || status=$?
  fi
  exec {lock}>&-
  [ "$status" -eq 0 ] || return "$status"
  echo "$root/bin/helm"
}

# _ballast_helm_build SRC ROOT: go build of helm from module SRC into
# ROOT/bin, holding ROOT's lock.
_ballast_helm_build() {
  local src=$1 root=$2
  local go=${BALLAST_GO:-/usr/local/go/bin/go}
  if [ ! -x "$go" ]; then
    echo "ballast_helm_binary: no Go toolchain at $go" >&2
    return 1
  fi
  # Stamp the version the module pins, as helm's release builds do, so that
  # `helm version` reports it (and not the source's placeholder).
  local version
  version=$(awk '$1 == "require" && $2 == "helm.sh/helm/v4" { print $3; exit }
                 $1 == "helm.sh/helm/v4" && $2 ~ /^v/ { print $2; exit }' "$src/go.mod")
  local ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$version"
  ldflags+=" -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
  rm -rf "$root"/bin.tmp.*
  local tmp
  tmp=$(mktemp -d "$root/bin.tmp.XXXXXX") || return 1
  echo "building helm $version into $root/bin" >&2
  local started=$SECONDS
  # CGO off, as helm's own Makefile builds it: a static binary.
  if ! (cd "$src" && CGO_ENABLED=0 "$go" build -trimpath -buildvcs=false \
    -ldflags "$ldflags" -o "$tmp/" helm.sh/helm/v4/cmd/helm) >&2; then
    echo "ballast_helm_binary: go build failed" >&2
    rm -rf "$tmp"
    return 1
  fi
  chmod 755 "$tmp"
  rm -rf "$root/bin"
  mv -T "$tmp" "$root/bin"
  echo "built helm in $((SECONDS - started))s" >&2
}
