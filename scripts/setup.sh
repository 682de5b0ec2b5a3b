#!/usr/bin/env bash
# Installs everything ntbox needs to build and test, from Debian packages. Idempotent.
set -euo pipefail
packages=(
  cmake ninja-build g++ pkg-config
  mingw-w64 clang lld
  libzydis-dev libcli11-dev libfmt-dev nlohmann-json3-dev
  libsqlite3-dev libssl-dev openssl osslsigncode
  libgtest-dev libgmock-dev libbenchmark-dev
  llvm-14-dev libclang-rt-14-dev
  libedit-dev gdb libexpat1-dev libseccomp-dev libcap-dev
  help2man
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
# The user-mode DLLs programs run on (Wine's PE builds, unmodified) into the build tree.
"$(dirname "$0")/fetch-wine.sh"
