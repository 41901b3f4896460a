#!/usr/bin/env bash
# OpenTAXII 0.9.3 (EclecticIQ's TAXII server) beside Sitrep, on a PostgreSQL database of
# ours: for the TAXII benchmark (deploy/bench-opentaxii) and for tests of Sitrep against a
# production TAXII 2.1 peer. docs/taxii.md ("OpenTAXII beside Sitrep") describes its use.
#
# Source it for the functions, or run it with the function's name without its prefix:
#   deploy/lib/opentaxii.sh install TOOLS_DIR
#   deploy/lib/opentaxii.sh configure DIR DATABASE_URL
#   deploy/lib/opentaxii.sh setup DIR USER PASSWORD [TITLE [ALIAS]]
#   deploy/lib/opentaxii.sh load DIR COLLECTION_ID OBJECTS.jsonl
#   deploy/lib/opentaxii.sh serve DIR PORT [CERT KEY]   (in the foreground: a test's child)
#
#   opentaxii_install TOOLS_DIR
#       a virtual environment TOOLS_DIR/opentaxii holding OpenTAXII and its dependencies at
#       the versions pinned in opentaxii-requirements.txt (reused while they match); sets
#       and prints $opentaxii_venv
#   opentaxii_configure DIR DATABASE_URL
#       DIR/opentaxii.yml: TAXII 2.1 only, accounts and objects in the PostgreSQL database
#       DATABASE_URL (postgres://user[:password]@127.0.0.1:port/db; it must exist), a
#       random token secret, warnings-only logs
#   opentaxii_setup DIR USER PASSWORD [TITLE [ALIAS]]
#       creates the tables, an administrator account USER, a default API root and a
#       collection TITLE (default "sitrep") with ALIAS, and prints one line of JSON:
#       {"api_root_id", "collection_id", "token"} (token: a JWT for `Authorization: Bearer`)
#   opentaxii_load DIR COLLECTION_ID FILE
#       adds the STIX objects of FILE (JSON Lines) to the (empty) collection through
#       OpenTAXII's persistence models, as its POST …/objects/ stores them (each id and
#       version once); prints how many it added
#   opentaxii_start DIR PORT [CERT KEY]
#       gunicorn serving it on 127.0.0.1:PORT in the background (HTTPS with CERT and KEY);
#       sets $opentaxii_pid and returns once its discovery answers
#   opentaxii_serve DIR PORT [CERT KEY]
#       the same in the foreground (exec)
#   opentaxii_stop
#       stops what opentaxii_start started
#
# OPENTAXII_WORKERS sets gunicorn's worker count (default 2 × cores + 1, gunicorn's advice).
# gunicorn serves opentaxii_serve.py: OpenTAXII's own application with its JSON encoding of
# UUIDs fixed (0.9.3 fails to list collections or answer a POST on PostgreSQL without it).
# Its API root's objects are at /taxii2/<api_root_id>/collections/<id>/objects/.

opentaxii_lib=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)

opentaxii_install() {
  local tools=${1:?opentaxii_install TOOLS_DIR} req=$opentaxii_lib/opentaxii-requirements.txt
  opentaxii_venv=$tools/opentaxii
  if [[ -f $opentaxii_venv/.sitrep-requirements ]] && cmp -s "$req" "$opentaxii_venv/.sitrep-requirements"; then
    printf '%s\n' "$opentaxii_venv"
    return 0
  fi
  echo "opentaxii: installing OpenTAXII 0.9.3 (pinned) into $opentaxii_venv" >&2
  rm -rf -- "$opentaxii_venv"
  python3 -m venv "$opentaxii_venv" &&
    "$opentaxii_venv/bin/pip" install --quiet --no-deps -r "$req" >&2 &&
    "$opentaxii_venv/bin/python" -c 'import opentaxii, gunicorn, psycopg2' &&
    cp "$req" "$opentaxii_venv/.sitrep-requirements" || {
    echo "opentaxii: could not install OpenTAXII into $opentaxii_venv" >&2
    return 1
  }
  printf '%s\n' "$opentaxii_venv"
}

opentaxii_configure() {
  local dir=${1:?opentaxii_configure DIR DATABASE_URL} url=${2:?opentaxii_configure DIR DATABASE_URL} secret
  [[ $url == postgres://* || $url == postgresql://* ]] || { echo "opentaxii: not a PostgreSQL URL" >&2; return 1; }
  url=postgresql+psycopg2://${url#*://}
  secret=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
  mkdir -p "$dir"
  (umask 077 && cat >"$dir/opentaxii.yml" <<EOF
# Written by deploy/lib/opentaxii.sh: OpenTAXII for TAXII 2.1 only, on PostgreSQL.
domain: "127.0.0.1"
support_basic_auth: yes
return_server_error_details: no
auth_api:
  class: opentaxii.auth.sqldb.SQLDatabaseAPI
  parameters:
    db_connection: "$url"
    create_tables: yes
    secret: "$secret"
    token_ttl_secs: 86400
taxii1:
taxii2:
  title: "OpenTAXII beside Sitrep"
  public_discovery: yes
  allow_custom_properties: yes
  max_content_length: 104857600
  persistence_api:
    class: opentaxii.persistence.sqldb.Taxii2SQLDatabaseAPI
    parameters:
      db_connection: "$url"
      create_tables: yes
logging:
  opentaxii: warning
  root: warning
EOF
  )
}

# opentaxii_py DIR ARGS...: the admin script with DIR's configuration.
opentaxii_py() {
  local dir=$1
  shift
  [[ -n ${opentaxii_venv:-} ]] || { echo "opentaxii: run opentaxii_install first" >&2; return 1; }
  OPENTAXII_CONFIG=$dir/opentaxii.yml PYTHONWARNINGS=ignore \
    "$opentaxii_venv/bin/python" "$opentaxii_lib/opentaxii_admin.py" "$@"
}

opentaxii_setup() {
  local dir=${1:?opentaxii_setup DIR USER PASSWORD [TITLE [ALIAS]]}
  opentaxii_py "$dir" setup --user "${2:?user}" --password "${3:?password}" --title "${4:-sitrep}" ${5:+--alias "$5"}
}

opentaxii_load() {
  opentaxii_py "${1:?opentaxii_load DIR COLLECTION_ID FILE}" load "${2:?collection id}" "${3:?file}"
}

# opentaxii_command DIR PORT [CERT KEY] -> gunicorn's command line, one word a line
opentaxii_command() {
  local dir=$1 port=$2 cert=${3:-} key=${4:-}
  local cmd=("$opentaxii_venv/bin/gunicorn" --workers "${OPENTAXII_WORKERS:-$((2 * $(nproc) + 1))}"
    --bind "127.0.0.1:$port" --config python:opentaxii_serve --log-level warning)
  [[ -z $cert ]] || cmd+=(--certfile "$cert" --keyfile "$key")
  cmd+=(opentaxii_serve:app)
  printf '%s\n' "${cmd[@]}"
}

opentaxii_serve() {
  local dir=${1:?opentaxii_serve DIR PORT [CERT KEY]} cmd
  [[ -n ${opentaxii_venv:-} ]] || { echo "opentaxii: run opentaxii_install first" >&2; return 1; }
  mapfile -t cmd < <(opentaxii_command "$@")
  OPENTAXII_CONFIG=$dir/opentaxii.yml PYTHONWARNINGS=ignore PYTHONPATH=$opentaxii_lib exec "${cmd[@]}"
}

opentaxii_start() {
  local dir=${1:?opentaxii_start DIR PORT [CERT KEY]} port=${2:?port} scheme=http cmd
  [[ -n ${opentaxii_venv:-} ]] || { echo "opentaxii: run opentaxii_install first" >&2; return 1; }
  [[ -z ${3:-} ]] || scheme=https
  mapfile -t cmd < <(opentaxii_command "$@")
  OPENTAXII_CONFIG=$dir/opentaxii.yml PYTHONWARNINGS=ignore PYTHONPATH=$opentaxii_lib "${cmd[@]}" >>"$dir/gunicorn.log" 2>&1 &
  opentaxii_pid=$!
  for _ in $(seq 150); do
    curl -skf "$scheme://127.0.0.1:$port/taxii2/" -H 'accept: application/taxii+json;version=2.1' \
      >/dev/null 2>&1 && return 0
    kill -0 "$opentaxii_pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "opentaxii: gunicorn did not answer on port $port; its log:" >&2
  tail -n 20 "$dir/gunicorn.log" >&2
  return 1
}

opentaxii_stop() {
  [[ -n ${opentaxii_pid:-} ]] || return 0
  kill -TERM "$opentaxii_pid" 2>/dev/null || true
  wait "$opentaxii_pid" 2>/dev/null || true
  opentaxii_pid=
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  what=${1:?usage: opentaxii.sh install|configure|setup|load|serve ARGS...}
  shift
  case $what in
    install) opentaxii_install "$@" ;;
    configure) opentaxii_configure "$@" ;;
    setup | load | serve)
      opentaxii_venv=${OPENTAXII_VENV:-${SITREP_TEST_TOOLS_DIR:-/tmp/sitrep-tools}/opentaxii}
      "opentaxii_$what" "$@"
      ;;
    *) echo "opentaxii.sh: unknown command $what" >&2; exit 2 ;;
  esac
fi
