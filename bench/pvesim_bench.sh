#!/bin/sh
# Builds and runs the pvesim benchmark (see bench/pvesim_bench.cc).
# Usage: bench/pvesim_bench.sh [BUILD_DIR]   (default: build)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build"}
cmake -S "$root" -B "$build" -G Ninja >/dev/null
cmake --build "$build" --target pvesim_bench >/dev/null
exec "$build/acceptance-tests/pvesim/pvesim_bench"
