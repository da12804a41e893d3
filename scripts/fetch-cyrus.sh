#!/usr/bin/env bash
# Unpack Debian's Cyrus IMAP server into .cache/cyrus/root for the integration tests (tests/cyrus.py).
#
# The package cyrus-imapd cannot be installed beside dovecot-imapd (both provide imap-server), but its
# binaries run from any folder: `apt-get download` the packages and `dpkg -x` them, nothing is installed.
# A second run finds the unpacked tree and downloads nothing. Exits non-zero, saying what is missing, if a
# binary the tests start cannot find one of its libraries.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=.cache/cyrus
root="$cache/root"
bins=(usr/lib/cyrus/bin/master usr/lib/cyrus/bin/imapd usr/lib/cyrus/bin/idled usr/lib/cyrus/bin/ctl_cyrusdb
      usr/sbin/saslpasswd2)

unresolved() {
  local libs arch; arch="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
  libs="$root/usr/lib/$arch:$root/lib/$arch"
  for bin in "${bins[@]}" "usr/lib/$arch/sasl2/libsasldb.so.2" "usr/lib/$arch/sasl2/libplain.so.2"; do
    [ -e "$root/$bin" ] || { echo "$bin: missing"; continue; }
    LD_LIBRARY_PATH="$libs" ldd "$root/$bin" | sed -n "s|^\s*\(\S*\) => not found|$bin: \1 not found|p"
  done
}

if [ -f "$cache/ok" ] && [ -z "$(unresolved)" ]; then
  exit 0
fi

# Always: the server, its tools, SASL's password tool and the libraries Debian's dovecot does not pull in.
packages=(cyrus-imapd cyrus-common sasl2-bin libsasl2-modules libsasl2-modules-db libpcre3 libxapian30 libical3)
# Libraries cyrus-common links that a minimal Debian may lack: fetched only when not installed.
for lib in libsasl2-2 libjansson4 libldap-2.5-0 libpq5 libsqlite3-0 libxml2 libicu72 libwrap0 libnsl2 libdb5.3 \
           libuuid1 libgnutls30 libidn2-0 libunistring2 libnettle8 libhogweed6 libgmp10 libp11-kit0 libtasn1-6 \
           libffi8 libstdc++6 libkrb5-3 libgssapi-krb5-2 libk5crypto3 libkrb5support0; do
  dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q "install ok installed" || packages+=("$lib")
done

rm -rf "$cache" && mkdir -p "$cache/debs"
fetch() { (cd "$cache/debs" && apt-get download -q "${packages[@]}" >/dev/null 2>&1); }
if ! fetch; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  (cd "$cache/debs" && apt-get download -q "${packages[@]}" >/dev/null)
fi
for deb in "$cache"/debs/*.deb; do
  dpkg -x "$deb" "$root"
done
missing="$(unresolved)"
if [ -n "$missing" ]; then
  echo "Cyrus unpacked into $root cannot run:" >&2
  echo "$missing" >&2
  exit 1
fi
rm -rf "$cache/debs"
touch "$cache/ok"
echo "Cyrus IMAP unpacked into $root"
