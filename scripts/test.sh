#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test. This is the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
# Once more with the load-time rewriter off (cpu/Rewriter.h): drivers' cr8 reads all trap, and
# every test must give the same results.
NTBOX_REWRITE=0 ctest --test-dir build --output-on-failure -j"$(nproc)" -E '^Fuzz'
# The example project, built and tested against a fresh install of this build.
scripts/example.sh
