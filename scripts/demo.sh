#!/usr/bin/env bash
# Installs dependencies, builds, and runs the main job: seed 000's session on the default
# machine. Boot it, install the bundled first driver (test-signed by the SDK) as a service, see
# it blocked, turn test signing on, reboot, start it, read its debug output, stop it.
# (The sample's user-mode app arrives with `ntbox run`, issue 4.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ntbox=build/bin/ntbox
driver="$PWD/build/drivers/FirstDriverSample.sys"
step() { printf '\n$ ntbox %s\n' "$*"; "$ntbox" "$@" || true; }
step boot
"$ntbox" sc stop 001_sample >/dev/null 2>&1 || true
"$ntbox" sc delete 001_sample >/dev/null 2>&1 || true
"$ntbox" bcdedit /set testsigning off >/dev/null 2>&1
"$ntbox" reboot >/dev/null
step sc create 001_sample type= kernel binPath= "$driver"
step sc start 001_sample
step bcdedit /set testsigning on
step reboot
step sc start 001_sample
step lm
step sc stop 001_sample
step dbgview
step status
