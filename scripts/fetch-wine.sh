#!/usr/bin/env bash
# Installs the user-mode DLLs programs run on: Wine 8.0's PE builds and NLS tables from Debian's
# libwine package, pinned by version and checksum, unmodified. Only the files are taken (apt-get
# download + dpkg-deb -x), not the package's X11 and media dependencies. Idempotent.
#   scripts/fetch-wine.sh [DEST]   (default: build/lib/ntbox/wine)
set -euo pipefail
cd "$(dirname "$0")/.."
version="8.0~repack-4"
sha256="512b715f32fccf2ebec2b63f23d9d83394d30e27cc5570a8ef92c5d3627ef305"
dest="${1:-build/lib/ntbox/wine}"
stamp="$dest/VERSION"
# The layout changes when the list of DLLs or their names here do.
layout="libwine $version, layout 2"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$layout" ]; then
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
deb="$work/libwine_${version}_amd64.deb"
download() { (cd "$work" && apt-get download -q "libwine=$version" >/dev/null 2>&1); }
if ! download; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q >/dev/null
  if ! download; then
    echo "fetch-wine: cannot download libwine $version (Debian 12's Wine); ntbox's programs need its DLLs" >&2
    exit 1
  fi
fi
if [ "$(sha256sum "$deb" | cut -d' ' -f1)" != "$sha256" ]; then
  echo "fetch-wine: libwine_${version}_amd64.deb does not have the expected SHA-256 ($sha256)" >&2
  exit 1
fi
dpkg-deb -x "$deb" "$work/x"
pe="$work/x/usr/lib/x86_64-linux-gnu/wine/x86_64-windows"
rm -rf "$dest"
mkdir -p "$dest/x86_64-windows" "$dest/nls"
grep -v '^#' user/wine/dlls.txt | while read -r dll as; do
  [ -n "$dll" ] && cp "$pe/$dll" "$dest/x86_64-windows/${as:-$dll}"
done
cp "$work"/x/usr/share/wine/nls/*.nls "$dest/nls/"
cp "$work/x/usr/share/doc/libwine/copyright" "$dest/COPYRIGHT"
cat > "$dest/NOTICE" <<NOTICE
These DLLs and NLS tables are Wine $version as Debian 12 ships it (package libwine), used
unmodified. Wine is free software under the GNU Lesser General Public License 2.1 or later
(COPYRIGHT has the full terms). Its source: apt-get source wine=$version, or
https://sources.debian.org/src/wine/$version/ and https://www.winehq.org/.
NOTICE
echo "$layout" > "$stamp"
