#!/usr/bin/env bash
# The .deb: made by CPack from this build tree, unpacked into a fresh root and checked
# there (the binaries run, the unit file verifies, the postinst makes the kinbox user, the
# example config names every option). As root in CI it is also installed with dpkg -i.
#
#   tests/package_test.sh BUILD_DIR VERSION
set -euo pipefail
build=$1
version=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/kinbox-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
if ! (cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1); then
  cat "$work/cpack.log"
  exit 1
fi
deb=$(ls "$work"/out/kinbox_*.deb)
dpkg-deb --field "$deb" Package Version Depends | tee "$work/fields"
grep -qx "Package: kinbox" "$work/fields"
grep -qx "Version: $version" "$work/fields"
grep -q "^Depends: .*libcaf" "$work/fields" # the shared libraries, found by dpkg-shlibdeps
root="$work/root"
dpkg-deb -x "$deb" "$root"
for bin in kinbox-node kinbox kinbox-admin; do
  [ "$("$root/usr/bin/$bin" --version)" = "$bin $version" ]
done
unit="$root/lib/systemd/system/kinbox-node.service"
conf="$root/etc/kinbox/kinbox-node.conf"
test -f "$unit"
test -f "$conf"
for doc in README operations architecture protocol security privacy actors performance; do
  test -f "$root/usr/share/doc/kinbox/$doc.md"
done
if readelf -S "$root/usr/bin/kinbox-node" | grep -q debug_info; then
  echo "kinbox-node in the package carries debug info" >&2
  exit 1
fi
for opt in $("$root/usr/bin/kinbox-node" --help | grep -oE '^  (-h \[ )?--[a-z0-9-]+' | sed 's/.*--//'); do
  case $opt in help | version | config) continue ;; esac
  if ! grep -qE "^(# )?$opt=" "$conf"; then
    echo "the example config does not name --$opt" >&2
    exit 1
  fi
done
dpkg-deb -e "$deb" "$work/control"
grep -q "adduser --system" "$work/control/postinst"
grep -qx /etc/kinbox/kinbox-node.conf "$work/control/conffiles"
if command -v systemd-analyze >/dev/null; then
  # The unit as it would run, with the binary it starts taken from the unpacked package.
  sed "s|/usr/bin/kinbox-node|$root/usr/bin/kinbox-node|" "$unit" >"$work/kinbox-node.service"
  systemd-analyze verify "$work/kinbox-node.service"
fi
if [ "${CI:-}" = true ] && [ "$(id -u)" -eq 0 ]; then
  dpkg -i "$deb"
  [ "$(/usr/bin/kinbox-node --version)" = "kinbox-node $version" ]
  getent passwd kinbox >/dev/null
  [ "$(stat -c %U /var/lib/kinbox)" = kinbox ]
  if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify /lib/systemd/system/kinbox-node.service
  fi
fi
echo "package ok: $(basename "$deb")"
