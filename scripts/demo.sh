#!/usr/bin/env bash
# Installs dependencies, builds, and runs the main job: loads the bundled first driver (seed 000).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
build/bin/ntbox load build/drivers/FirstDriverSample.sys
