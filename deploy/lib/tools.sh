#!/usr/bin/env bash
# Pinned tools from PyPI that both the tests (deploy/test) and the benchmarks run, installed
# into the tools folder (SITREP_TEST_TOOLS_DIR, default /tmp/sitrep-tools). Source this file
# after deploy/lib/pg.sh (for `log`); it only defines a version and functions.

# aiosmtpd: the SMTP server of the notification tests and of deploy/bench-notify
# (tests/api/smtp_sink.py).
aiosmtpd_version=1.4.6

# install_aiosmtpd TOOLS: aiosmtpd into TOOLS/venv unless that version is there already;
# fails when it cannot be installed.
install_aiosmtpd() {
  local tools=$1
  "$tools/venv/bin/python" -c "import sys, aiosmtpd; sys.exit(aiosmtpd.__version__ != '$aiosmtpd_version')" \
    2>/dev/null && return 0
  log "installing aiosmtpd $aiosmtpd_version into $tools/venv"
  { [[ -x $tools/venv/bin/pip ]] || python3 -m venv "$tools/venv"; } &&
    "$tools/venv/bin/pip" install --quiet "aiosmtpd==$aiosmtpd_version"
}
