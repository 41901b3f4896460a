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

# schemathesis: the fuzz run over the OpenAPI document (tests/api/fuzz.rs) and
# deploy/schemathesis. Its version is pinned in schemathesis-requirements.txt beside this file.
schemathesis_requirements=$(dirname -- "${BASH_SOURCE[0]}")/schemathesis-requirements.txt
schemathesis_version=$(sed -n 's/^schemathesis==//p' "$schemathesis_requirements")

# install_schemathesis TOOLS: schemathesis into TOOLS/venv unless that version is there
# already; fails when it cannot be installed.
install_schemathesis() {
  local tools=$1
  "$tools/venv/bin/schemathesis" --version 2>/dev/null | grep -qF "version $schemathesis_version" && return 0
  log "installing schemathesis $schemathesis_version into $tools/venv"
  { [[ -x $tools/venv/bin/pip ]] || python3 -m venv "$tools/venv"; } &&
    "$tools/venv/bin/pip" install --quiet -r "$schemathesis_requirements"
}

# install_console_packages DIR: playwright-core, axe-core and uqr, pinned by
# DIR/package-lock.json (tests/console), into DIR/node_modules unless they are there
# already; fails when npm cannot install them.
install_console_packages() {
  local dir=$1 stamp=$1/node_modules/.sitrep-lock
  [[ -f $stamp ]] && cmp -s "$dir/package-lock.json" "$stamp" && return 0
  log "installing playwright-core and axe-core (pinned) into $dir/node_modules"
  (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts >&2) && cp "$dir/package-lock.json" "$stamp"
}
