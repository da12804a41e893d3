#!/usr/bin/env bash
# Install everything the test suite needs, then run it. Extra arguments go to pytest.
#
#   Debian packages: dovecot-imapd and openssl (a real IMAP server for the integration tests)
#   Cyrus IMAP:      Debian's packages downloaded and unpacked into .cache/cyrus (scripts/fetch-cyrus.sh), once
#   Python:          a fresh venv in .venv-test with mentorbox and its [test] extra
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null 2>&1 || missing+=(dovecot-imapd)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash scripts/fetch-cyrus.sh

python3 -m venv .venv-test
.venv-test/bin/python -m pip install -q --upgrade pip
.venv-test/bin/python -m pip install -q ".[test]"
exec .venv-test/bin/python -m pytest -q "$@"
