#!/usr/bin/env bash
# Installs dependencies, builds, and runs the main job: seed 000's session on the default
# machine. Boot it, install the bundled first driver (test-signed by the SDK) as a service, see
# it blocked, turn test signing on, reboot, start it, read its debug output, stop it. Then seed
# 002's IOCTL sample as the seed runs it: its program, beside its driver in a folder, installs and
# starts the driver through the service API, sends the four IOCTLs, stops and deletes the service;
# then the driver's debug output. Then both seeds' kernel-debugger steps in kd's script mode: seed
# 000's lm, x and uf (with the source line of each instruction), and seed 002's breakpoint on
# DriverEntry set before the program loads the driver, p to its return, !drvobj, a breakpoint in
# the create routine the program's CreateFile reaches, and k down to the program's main.
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
"$ntbox" bcdedit /debug off >/dev/null 2>&1
"$ntbox" reboot >/dev/null
step sc create 001_sample type= kernel binPath= "$driver"
step sc start 001_sample
step bcdedit /set testsigning on
step reboot
step sc start 001_sample
step lm
step sc stop 001_sample
step dbgview
# Seed 000's kernel debugging: on at the next boot, then WinDbg's commands on the running driver.
step bcdedit /debug on
step reboot
step sc start 001_sample
step kd -c 'lm; x /D /f FirstDriverSample!d*; uf FirstDriverSample!DriverEntry'
step sc stop 001_sample
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
# Seed 002 under the debugger: the breakpoint waits for the driver; once kd has set it (its echo of
# g), the program runs and loads the driver.
printf "\n\$ ntbox kd -c 'bp ioctl_sample!DriverEntry; g; p ...; !drvobj SIoctl 2; bp ioctl_sample!SampleCreateClose; g; k; qd' &\n"
fifo="$sample/kd.fifo"
mkfifo "$fifo"
steps="$(printf 'p; %.0s' $(seq 1 14))"
"$ntbox" kd -c "bp ioctl_sample!DriverEntry; g; $steps!drvobj SIoctl 2; bp ioctl_sample!SampleCreateClose; g; k; qd" \
  </dev/null >"$fifo" 2>&1 &
exec 3<"$fifo"
while IFS= read -r line <&3; do
  printf '%s\n' "$line"
  [[ "$line" == "kd> g" ]] && break
done
(cd "$sample" && "$OLDPWD/$ntbox" run ioctl_install_app.exe >"$sample/app.out" 2>&1) &
cat <&3
wait
printf '\n$ cd %s && ntbox run ioctl_install_app.exe   (its output, beside the session above)\n' "$sample"
cat "$sample/app.out"
step status
