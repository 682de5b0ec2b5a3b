#!/usr/bin/env bash
# Installs the build into a fresh prefix and builds and tests examples/hello against it, as a driver
# developer with only the installed package would (the README's "Build and test your own driver").
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install build --prefix "$work/prefix" >/dev/null
cmake -S examples/hello -B "$work/build" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$work/prefix/share/ntbox/sdk/cmake/mingw-w64-x86_64.cmake" \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build"
ctest --test-dir "$work/build" --output-on-failure
