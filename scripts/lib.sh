# Shared helpers for scripts/test and scripts/demo. Source it; do not run it.

# Debian packages ballast needs to build, test and run its demo.
BALLAST_PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-format
  libabsl-dev libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev libhiredis-dev libboost-dev libssl-dev openssl curl
  redis-server prometheus
  python3 python3-celery python3-redis python3-prometheus-client python3-grpcio
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

# ballast_build DIR [cmake args...]: configure (once) and build.
ballast_build() {
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
  fi
  cmake --build "$dir" -j "$(nproc)"
}
