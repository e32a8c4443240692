# The libraries ballast links, all from Debian packages (scripts/lib.sh
# installs them). Included by the main build and by fuzz/, so both find the
# same ones the same way.
find_package(absl CONFIG REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(PkgConfig REQUIRED)
# hiredis 0.14's CMake config is broken when no version is asked for.
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
find_package(Boost 1.74 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
# Header-only command-line parser (Debian libcli11-dev).
find_package(CLI11 CONFIG REQUIRED)
# Header-only (ballast/core/json.h); Debian's config only names /usr/include.
find_package(RapidJSON CONFIG REQUIRED)
