#!/usr/bin/env bash
# Installs dependencies, builds, and runs the main job: seed 000's session on the default
# machine. Boot it, install the bundled first driver (test-signed by the SDK) as a service, see
# it blocked, turn test signing on, reboot, start it, read its debug output, stop it. Then seed
# 002's IOCTL sample as the seed runs it: its program, beside its driver in a folder, installs and
# starts the driver through the service API, sends the four IOCTLs, stops and deletes the service;
# then the driver's debug output.
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
# Seed 002: ioctl_sample.sys (as sioctl.sys) and ioctl_install_app.exe (as ioctlapp.exe), in one
# folder, the program run from there on Wine's DLLs.
"$ntbox" sc stop SIoctl >/dev/null 2>&1 || true
"$ntbox" sc delete SIoctl >/dev/null 2>&1 || true
sample="$(mktemp -d)"
trap 'rm -rf "$sample"' EXIT
cp build/drivers/ioctl_sample.sys build/drivers/ioctl_install_app.exe "$sample/"
(cd "$sample" && printf '\n$ cd %s && ntbox run ioctl_install_app.exe\n' "$sample" &&
  "$OLDPWD/$ntbox" run ioctl_install_app.exe) || true
step dbgview
step sc query SIoctl
step status
