#!/usr/bin/env bash
# Checks the Debian package as a user gets it: builds it (cpack), installs it with apt on a fresh
# Debian 12 (a debootstrap minbase chroot), then builds and tests examples/hello there from a folder
# of its own and loads its driver from another. Needs root, network and debootstrap; not part of the
# test suite (it takes minutes and changes /srv). Usage: scripts/package-check.sh [CHROOT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
root="${1:-/srv/ntbox-deb12}"
command -v debootstrap >/dev/null || { apt-get update && apt-get install -y --no-install-recommends debootstrap; }
(cd build && cpack -G DEB >/dev/null)
deb="$(ls -t build/ntbox_*_amd64.deb | head -1)"
[ -d "$root/usr" ] || debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
cleanup() { umount "$root/dev/pts" "$root/dev" "$root/proc" "$root/sys" 2>/dev/null || true; }
trap cleanup EXIT
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t sysfs sys "$root/sys"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/ntbox.deb"
rm -rf "$root/home/dev" && mkdir -p "$root/home/dev" && cp -r examples/hello "$root/home/dev/hello"
chroot "$root" bash -euc '
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/ntbox.deb >/dev/null
  cd /home/dev/hello
  cmake -S . -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=/usr/share/ntbox/sdk/cmake/mingw-w64-x86_64.cmake >/dev/null
  cmake --build build >/dev/null
  ctest --test-dir build --output-on-failure
  cd /tmp && ntbox load /home/dev/hello/build/hello.sys
'
echo "package-check: $deb installs on Debian 12 and builds, tests and loads the example"
