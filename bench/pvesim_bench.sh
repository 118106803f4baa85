#!/bin/sh
# Builds and runs the pvesim benchmark (see bench/pvesim_bench.cc).
# Usage: bench/pvesim_bench.sh [BUILD_DIR]   (default: build)
# Builds take the shared build lock when flock(1) is available.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build"}
lock=""
if command -v flock >/dev/null 2>&1; then lock="flock /tmp/pvek8s-build.lock"; fi
$lock sh -c "cmake -S '$root' -B '$build' -G Ninja >/dev/null && cmake --build '$build' --target pvesim_bench >/dev/null"
exec "$build/acceptance-tests/pvesim/pvesim_bench"
