#!/usr/bin/env bash
# Helpers shared by the deploy/bench-* scripts. Source this file after deploy/lib/pg.sh; it
# only defines functions (and two empty arrays).
#
# The start-up every benchmark shares, in order:
#   bench_setup              a private work folder ($work, $pg_dir), cleaned up on exit
#   bench_cluster PORT [SETTING...]
#                            a throwaway cluster on BENCH_PG_PORT (default PORT) with the
#                            database `sitrep`; exports DATABASE_URL and SITREP_DATA_DIR
#   bench_standby PORT [SETTING...]
#                            (if the benchmark needs one) a streaming standby of that
#                            cluster in $standby_dir on BENCH_STANDBY_PORT (default PORT)
#   bench_build [BIN...]     the release build of `sitrep` (and BINs); sets $bin.
#                            BENCH_BINARY=path uses a prebuilt `sitrep` instead (its
#                            folder must hold the other BINs)
#   bench_bootstrap          `sitrep bootstrap`; sets $password (the secretariat's
#                            one-time password)
#   bench_serve PORT [ARG...] `sitrep ARG... serve` in the background; sets $server and
#                            $bench_base and returns once /health/ready answers (waits
#                            BENCH_READY_SECS, default 20)
#   password=$(bench_own_password secretariat "$password")
#                            the secretariat chooses its own password (the same for an
#                            account a benchmark creates: an administrator's is one-time)
# bench_track PID adds another process to stop on exit, bench_stop PID stops one now.
# BENCH_KEEP=1 leaves the cluster running and the work folder in place.

# bench_setup [PREFIX]
bench_setup() {
  work=$(mktemp -d "/tmp/${1:-sitrep-bench}-XXXXXX")
  chmod 711 "$work"
  pg_dir=$work/pg
  trap bench_cleanup EXIT
}

bench_track() { BENCH_PIDS+=("$1"); }

# bench_stop PID: SIGTERM, wait, and forget it.
bench_stop() {
  local pid=$1 kept=() p
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${BENCH_PIDS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
  BENCH_PIDS=("${kept[@]}")
}

bench_cleanup() {
  local p
  for p in "${BENCH_PIDS[@]}"; do bench_stop "$p"; done
  if [[ ${BENCH_KEEP:-} == 1 ]]; then
    log "kept: $work (DATABASE_URL=${DATABASE_URL:-}, SITREP_DATA_DIR=${SITREP_DATA_DIR:-})"
    return
  fi
  pg_stop "$pg_dir" 2>/dev/null || true
  rm -rf -- "$work"
}

# bench_cluster DEFAULT_PORT [SETTING...]
bench_cluster() {
  local port=$1
  shift
  pg_setup
  pg_init "$pg_dir" sitrep_bench trust "$@"
  pg_start "$pg_dir" "${BENCH_PG_PORT:-$port}"
  pg_psql "$pg_dir" sitrep_bench -d postgres -c 'CREATE DATABASE sitrep' >/dev/null
  export DATABASE_URL="postgres://sitrep_bench@127.0.0.1:$(pg_port "$pg_dir")/sitrep"
  export SITREP_DATA_DIR=$work/data
}

# psql_db ARGS...: psql on the benchmark's database as its superuser.
psql_db() { pg_psql "$pg_dir" sitrep_bench -d sitrep "$@"; }
# sql QUERY: one query, unaligned rows.
sql() { psql_db -tA -c "$1"; }

# bench_build [BIN...]
bench_build() {
  if [[ -n ${BENCH_BINARY:-} ]]; then
    bin=$BENCH_BINARY
    return
  fi
  local args=(--bin sitrep) b
  for b in "$@"; do args+=(--bin "$b"); done
  cargo build --release --workspace "${args[@]}" >&2
  bin=${CARGO_TARGET_DIR:-target}/release/sitrep
}

# bench_seed_tool: $seed, the benchmarks' access-log seeder (`sitrep-seed-access-log`, crate
# sitrep-bench-tools; not in the production binary), built in release if missing or stale.
bench_seed_tool() {
  cargo build --release -p sitrep-bench-tools --bin sitrep-seed-access-log >&2
  seed=${CARGO_TARGET_DIR:-target}/release/sitrep-seed-access-log
}

# The first secretariat account's password as `sitrep bootstrap` prints it: a one-time
# password, good only for choosing one's own (bench_own_password, once the server runs).
bench_bootstrap() {
  password=$("$bin" bootstrap | awk '$1 == "password:" {print $2}')
  [[ -n $password && $password != *$'\n'* ]] || die "bootstrap printed no password"
}

# api CURL_ARGS...: curl, trusting the certificate of the server bench_serve started.
api() { curl -s --cacert "$SITREP_DATA_DIR/tls/cert.pem" "$@"; }

# json EXPR: EXPR applied to the JSON document on standard input, e.g. json "['id']".
json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

# bench_login USER PASSWORD -> an access token (from the server bench_serve started).
bench_login() {
  api -X POST "$bench_base/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$2\"}" | json "['access_token']"
}

# bench_org TOKEN CODE -> the id of the organisation with that code.
bench_org() {
  api "$bench_base/api/v1/organisations?limit=200" -H "authorization: Bearer $1" |
    python3 -c "import json, sys; print([o['id'] for o in json.load(sys.stdin)['items'] if o['code'] == '$2'][0])"
}

# bench_random_password -> a new random password, long enough for the password rules.
bench_random_password() { printf 'bench-%s\n' "$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')"; }

# bench_user TOKEN USERNAME ORGANISATION_ID ROLE... -> the password of a new account (of
# the secretariat's TOKEN), one it has chosen itself (see bench_own_password).
bench_user() {
  local token=$1 name=$2 org=$3 first status roles
  shift 3
  first=$(bench_random_password)
  roles=$(printf '"%s",' "$@")
  status=$(api -o /dev/null -w '%{http_code}' -X POST "$bench_base/api/v1/users" \
    -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"username\":\"$name\",\"display_name\":\"Bench\",\"password\":\"$first\",\"organisation_id\":\"$org\",\"roles\":[${roles%,}]}")
  [[ $status == 201 ]] || die "could not create the account $name (HTTP $status)"
  bench_own_password "$name" "$first"
}

# bench_own_password USER ONE_TIME_PASSWORD -> a new random password, which the account
# has now chosen for itself. A password an administrator (or bootstrap) set is one-time:
# until it is changed the account can do nothing else.
bench_own_password() {
  local token new status
  token=$(bench_login "$1" "$2") || die "could not sign in as $1"
  new=$(bench_random_password)
  status=$(api -o /dev/null -w '%{http_code}' -X POST "$bench_base/api/v1/me/password" \
    -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"current_password\":\"$2\",\"new_password\":\"$new\"}")
  [[ $status == 2* ]] || die "could not set $1's own password (HTTP $status)"
  printf '%s\n' "$new"
}

# bench_serve PORT [ARG...]
bench_serve() {
  local port=$1
  shift
  bench_base=https://127.0.0.1:$port
  "$bin" "$@" serve >/dev/null &
  server=$!
  bench_track "$server"
  for _ in $(seq $((${BENCH_READY_SECS:-20} * 5))); do
    curl -skf "https://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "the server did not become ready on port $port"
}

# need_package COMMAND PACKAGE: installs PACKAGE from Debian's packages when COMMAND is
# missing (as root).
need_package() {
  command -v "$1" >/dev/null && return 0
  ((EUID == 0)) || die "$1 is missing: apt-get install $2"
  log "installing $2"
  apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
}

need_wrk() { need_package wrk wrk; }

# target NAME FIGURE REFERENCE RESULT GOAL MET
# Adds one row to the run's summary of the Performance targets (deploy/bench sets
# BENCH_SUMMARY to a file and prints the rows at the top of its report; a benchmark run
# on its own prints them at its end). MET is yes, no or n/a; every figure is one this run
# measured.
target() {
  local row
  row=$(printf '| %s | %s | %s | %s | %s | %s |' "$@")
  if [[ -n ${BENCH_SUMMARY:-} ]]; then
    printf '%s\n' "$row" >>"$BENCH_SUMMARY"
  else
    BENCH_OWN_SUMMARY+=("$row")
  fi
}

# The summary rows of a benchmark run on its own, as a Markdown table (call at the end).
summary_table() {
  ((${#BENCH_OWN_SUMMARY[@]})) || return 0
  echo
  summary_header
  printf '%s\n' "${BENCH_OWN_SUMMARY[@]}"
}

summary_header() {
  echo "| target | Sitrep | reference (same run) | result | goal | met |"
  echo "| --- | ---: | ---: | ---: | ---: | :---: |"
}

# ratio A B -> A/B to two decimals (three below 0.1).
ratio() { python3 -c "r = $1 / $2; print(round(r, 3 if r < 0.1 else 2))"; }

# at_least VALUE GOAL -> yes or no
at_least() { python3 -c "print('yes' if $1 >= $2 else 'no')"; }

# at_most VALUE GOAL -> yes or no
at_most() { python3 -c "print('yes' if $1 <= $2 else 'no')"; }

# ms TEXT -> milliseconds from a wrk latency ("870.00us", "12.5ms", "1.02s").
ms() {
  python3 -c "
import re, sys
m = re.fullmatch(r'([0-9.]+)(us|ms|s|m)', '$1')
if not m: sys.exit('not a latency: $1')
v, u = float(m.group(1)), m.group(2)
print(round(v / 1000 if u == 'us' else v if u == 'ms' else v * 1000 if u == 's' else v * 60000, 3))"
}
BENCH_OWN_SUMMARY=()
BENCH_PIDS=()

# bench_standby DEFAULT_PORT [SETTING...]
# A streaming standby of bench_cluster's cluster (pg_standby: `pg_basebackup -R`,
# asynchronous) in $standby_dir, on BENCH_STANDBY_PORT (default PORT), with the SETTINGs
# added to its postgresql.conf (the rest is the primary's, copied by the base backup).
# Stopped on exit like the cluster (bench_standby_cleanup replaces bench_cleanup's trap).
bench_standby() {
  local port=$1
  shift
  standby_dir=$work/pg-standby
  pg_standby "$pg_dir" sitrep_bench "$standby_dir" "${BENCH_STANDBY_PORT:-$port}" "$@"
  trap bench_standby_cleanup EXIT
}

bench_standby_cleanup() {
  local p
  for p in "${BENCH_PIDS[@]}"; do bench_stop "$p"; done
  if [[ ${BENCH_KEEP:-} == 1 ]]; then
    log "kept: the standby in $standby_dir (port $(pg_port "$standby_dir" 2>/dev/null))"
  else
    pg_stop "$standby_dir" 2>/dev/null || true
  fi
  bench_cleanup
}

# psql_standby ARGS...: psql on the standby as the superuser (database postgres: connections
# of the benchmark's own leave the standby's figures for `sitrep` alone).
psql_standby() { pg_psql "$standby_dir" sitrep_bench -d postgres "$@"; }
