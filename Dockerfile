# ballast's image: build on Debian 12 with Debian's libraries, run on
# debian:12-slim with only the shared libraries the binary links.
#
#   docker build -t ballast:0.1.0 .
#   docker run --rm --read-only ballast:0.1.0 --version
#
# tests/install/install_test.sh checks the runtime stage's package list
# against `ldd` of the installed binary (every library comes from a listed
# package, every listed package ships one, ca-certificates aside), so keep
# that apt-get install on one continued line without comments.

FROM debian:12 AS build
# scripts/lib.sh's packages that building the ballast binary needs (not the
# tests', the benchmarks' or the demo's).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake ninja-build pkg-config \
        libabsl-dev libyaml-cpp-dev libgrpc++-dev protobuf-compiler-grpc \
        libprotobuf-dev protobuf-compiler prometheus-cpp-dev libhiredis-dev \
        libboost-dev libssl-dev libcli11-dev rapidjson-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt README.md ./
COPY cmake cmake
COPY proto proto
COPY include include
COPY src src
COPY config config
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DBALLAST_BUILD_TESTS=OFF -DBALLAST_BUILD_BENCH=OFF \
    && cmake --build /build --target ballast \
    && cmake --install /build --prefix /stage --strip

FROM debian:12-slim
# The Debian packages of every library `ldd /usr/local/bin/ballast` lists
# (libc6, libgcc-s1, libstdc++6 and zlib1g are already in the base image), and
# CA certificates for TLS to Redis, Prometheus and the Kubernetes API.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libc6 libgcc-s1 libstdc++6 zlib1g \
        libabsl20220623 libc-ares2 libgrpc++1.51 libgrpc29 libhiredis0.14 \
        libprometheus-cpp-core1.0 libprotobuf32 libre2-9 libssl3 libyaml-cpp0.7 \
        ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /stage/ /usr/local/
# ballast writes no files (serve and check-config only read their config,
# certificates and tokens): it runs as a numeric non-root user on a read-only
# root filesystem.
USER 65532:65532
EXPOSE 6443 8080 9090
ENTRYPOINT ["/usr/local/bin/ballast"]
CMD ["serve", "--config", "/config/ballast.yaml"]
