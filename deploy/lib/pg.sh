#!/usr/bin/env bash
# PostgreSQL helpers shared by deploy/start and deploy/test. Source this file; it only
# defines functions.
#
# A cluster lives in one folder DIR: the data in DIR/data, the unix socket in DIR itself,
# the server log in DIR/postgres.log. It listens on 127.0.0.1 only. As root, the cluster
# runs as the unprivileged system user "sitrep" (PostgreSQL refuses to run as root);
# otherwise it runs as the current user.
#
# Call pg_setup first; it sets PG_BIN (the server binaries) and PG_OS_USER.

log() { printf 'sitrep: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Sets PG_BIN to a folder holding initdb and pg_ctl: the one initdb in PATH comes from,
# else the newest /usr/lib/postgresql/*/bin. Returns 1 if there is none.
pg_find_bin() {
  local dir
  if dir=$(command -v initdb) && command -v pg_ctl >/dev/null; then
    dir=$(dirname -- "$(readlink -f -- "$dir")")
    if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then PG_BIN=$dir; return 0; fi
  fi
  dir=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n 1) || true
  if [[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl ]]; then PG_BIN=$dir; return 0; fi
  return 1
}

pg_install() {
  (( EUID == 0 )) || die "PostgreSQL not found; install the Debian package 'postgresql' (as root: apt-get install postgresql)"
  command -v apt-get >/dev/null || die "PostgreSQL not found and apt-get is not available; install PostgreSQL first"
  log "PostgreSQL not found; installing the Debian package 'postgresql'"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  # Debian would create and start its own "main" cluster on port 5432; we run private
  # clusters only, so switch that off before installing the server.
  apt-get install -y postgresql-common >&2
  sed -i -E 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' \
    /etc/postgresql-common/createcluster.conf
  apt-get install -y postgresql >&2
}

pg_setup() {
  if ! pg_find_bin; then
    pg_install
    pg_find_bin || die "PostgreSQL server binaries (initdb, pg_ctl) still not found"
  fi
  if (( EUID == 0 )); then
    PG_OS_USER=sitrep
    if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
      log "creating system user $PG_OS_USER to run PostgreSQL"
      useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
    fi
  else
    PG_OS_USER=$(id -un)
  fi
}

# Runs a command as the cluster's OS user (from /, since our cwd may be unreadable to it).
pg_as() {
  if (( EUID == 0 )); then
    (cd / && exec runuser -u "$PG_OS_USER" -- "$@")
  else
    "$@"
  fi
}

# Creates DIR if needed: owned by PG_OS_USER, mode 0700, and checks that user can reach it.
pg_prepare_dir() {
  local dir=$1 owner
  [[ $dir == /* ]] || die "$dir must be an absolute path"
  [[ ! -L $dir ]] || die "$dir is a symbolic link; refusing to use it"
  mkdir -p -- "$dir" || die "cannot create $dir"
  owner=$(stat -c %U -- "$dir")
  if [[ $owner != "$PG_OS_USER" ]]; then
    if (( EUID == 0 )) && [[ $owner == root ]]; then
      chown -- "$PG_OS_USER:" "$dir"
    else
      die "$dir belongs to $owner, not $PG_OS_USER; remove it or choose another folder"
    fi
  fi
  chmod 700 -- "$dir"
  pg_as test -w "$dir" -a -x "$dir" \
    || die "user $PG_OS_USER cannot reach $dir; every parent folder must be searchable by it (chmod o+x)"
}

# pg_init DIR SUPERUSER HOST_AUTH [CONF_LINE...]
# Creates the cluster unless DIR/data already holds one. HOST_AUTH is the pg_hba method for
# TCP connections from 127.0.0.1: scram-sha-256 (any role, also ::1) or trust (SUPERUSER
# only). Over the unix socket only the cluster's OS user may connect, as SUPERUSER (peer).
# The CONF_LINEs are appended to postgresql.conf.
pg_init() {
  local dir=$1 su=$2 auth=$3 locale=C
  shift 3
  pg_prepare_dir "$dir"
  [[ ! -f $dir/data/PG_VERSION ]] || return 0
  log "creating PostgreSQL cluster in $dir/data"
  if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then locale=C.UTF-8; fi
  pg_as "$PG_BIN/initdb" -D "$dir/data" -U "$su" --encoding=UTF8 --locale="$locale" \
    --auth-local=peer --auth-host=reject >/dev/null
  {
    printf '\n# Added by sitrep (deploy/lib/pg.sh)\n'
    printf "listen_addresses = '127.0.0.1'\n"
    printf "unix_socket_directories = '%s'\n" "${dir//\'/\'\'}"
    printf '%s\n' "$@"
  } >>"$dir/data/postgresql.conf"
  printf 'owner %s %s\n' "$PG_OS_USER" "$su" >>"$dir/data/pg_ident.conf"
  {
    printf '# TYPE  DATABASE  USER  ADDRESS  METHOD  (written by sitrep)\n'
    printf 'local all %s peer map=owner\n' "$su"
    if [[ $auth == trust ]]; then
      printf 'host all %s 127.0.0.1/32 trust\n' "$su"
    else
      printf 'host all all 127.0.0.1/32 %s\n' "$auth"
      printf 'host all all ::1/128 %s\n' "$auth"
    fi
  } >"$dir/data/pg_hba.conf"
}

pg_is_running() {
  [[ -f $1/data/PG_VERSION ]] && pg_as "$PG_BIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1
}

# Port of the running cluster in DIR (from its postmaster.pid).
pg_port() { sed -n 4p "$1/data/postmaster.pid"; }

# pg_start DIR PORT
pg_start() {
  local dir=$1 port=$2
  [[ $port =~ ^[0-9]+$ ]] || die "invalid PostgreSQL port: $port"
  log "starting PostgreSQL on 127.0.0.1:$port (log: $dir/postgres.log)"
  if ! pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 120 \
      -o "-p $port -h 127.0.0.1" start >/dev/null; then
    tail -n 15 -- "$dir/postgres.log" >&2 || true
    die "PostgreSQL did not start"
  fi
}

pg_stop() {
  log "stopping PostgreSQL in $1"
  pg_as "$PG_BIN/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null
}

# pg_psql DIR SUPERUSER [PSQL_ARG...]: psql over the unix socket as the cluster's OS user.
pg_psql() {
  local dir=$1 su=$2 psql=$PG_BIN/psql
  shift 2
  [[ -x $psql ]] || psql=psql
  pg_as "$psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$(pg_port "$dir")" -U "$su" "$@"
}

# pg_standby PRIMARY_DIR SUPERUSER STANDBY_DIR PORT [CONF_LINE...]
# Makes a streaming standby of the running cluster in PRIMARY_DIR: lets SUPERUSER stream
# from it over 127.0.0.1 (a pg_hba line, trust; added once), takes a base backup with
# `pg_basebackup -R` (the WAL of the backup streamed along, the standby's connection to
# the primary written into it: asynchronous streaming replication) into STANDBY_DIR/data
# (anything there before is removed, a standby running there is stopped first), appends
# the CONF_LINEs to its postgresql.conf and starts it on PORT.
pg_standby() {
  local primary=$1 su=$2 standby=$3 port=$4 hba=$1/data/pg_hba.conf
  shift 4
  if ! grep -q "^host replication $su " "$hba"; then
    printf 'host replication %s 127.0.0.1/32 trust\n' "$su" >>"$hba"
    pg_as "$PG_BIN/pg_ctl" -D "$primary/data" reload >/dev/null
    sleep 1 # the postmaster reloads pg_hba.conf in the background
  fi
  if pg_is_running "$standby"; then pg_stop "$standby"; fi
  pg_prepare_dir "$standby"
  rm -rf -- "$standby/data"
  log "making a streaming standby of $primary in $standby"
  pg_as "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$(pg_port "$primary")" -U "$su" \
    -D "$standby/data" -R -X stream -c fast
  {
    printf '\n# A streaming standby (deploy/lib/pg.sh)\n'
    printf "unix_socket_directories = '%s'\n" "${standby//\'/\'\'}"
    printf '%s\n' "$@"
  } >>"$standby/data/postgresql.conf"
  pg_start "$standby" "$port"
}
