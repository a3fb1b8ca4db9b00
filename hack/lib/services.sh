# hack/lib/services.sh — shared by hack/services-up, hack/services-down, hack/services-ctl.
# Sourced, not run. Holds the settings (all overridable by environment) and one
# function per action on PostgreSQL and MinIO, so the three entry points cannot drift.
#
# Settings (environment):
#   MLCYCLE_STATE        state dir: data, logs, pid files    (default /tmp/mlcycle-services)
#   MLCYCLE_CACHE        build cache for MinIO               (default ~/.cache/mlcycle)
#   MLCYCLE_PG_PORT      PostgreSQL port                     (default 55432)
#   MLCYCLE_S3_PORT      MinIO S3 API port                   (default 59000)
#   MLCYCLE_S3_CONSOLE_PORT  MinIO console port              (default 59001)
#   MLCYCLE_SERVICES_LISTEN_ALL=1  listen on all interfaces instead of 127.0.0.1, so
#                        pods of a local Kubernetes can reach the services via the host IP
#   MLCYCLE_PG_BINDIR    PostgreSQL server binaries          (default: newest installed)
# Non-default ports keep clear of a system PostgreSQL on 5432 and MinIO's usual 9000.

# shellcheck shell=bash disable=SC2034  # the variables are used by the sourcing scripts

STATE="${MLCYCLE_STATE:-/tmp/mlcycle-services}"
STATE="${STATE%/}"
PG_PORT="${MLCYCLE_PG_PORT:-55432}"
S3_PORT="${MLCYCLE_S3_PORT:-59000}"
S3_CONSOLE_PORT="${MLCYCLE_S3_CONSOLE_PORT:-59001}"
if [[ "${MLCYCLE_SERVICES_LISTEN_ALL:-0}" == 1 ]]; then
  LISTEN_ADDR="0.0.0.0"
else
  LISTEN_ADDR="127.0.0.1"
fi

# Fixed test credentials: these services are throwaway and never hold real data.
readonly DB_NAME=mlcycle DB_USER=mlcycle DB_PASSWORD=mlcycle
readonly S3_ACCESS_KEY=mlcycle S3_SECRET_KEY=mlcycle-secret S3_REGION=us-east-1

# Layout of the state dir.
MARKER="$STATE/.mlcycle-services"   # proves the dir is ours before services-down deletes it
PGDATA="$STATE/postgres/data"
PG_SOCKET_DIR="$STATE/postgres/run"  # our own socket dir: /var/run/postgresql may be absent
PG_LOG="$STATE/logs/postgres.log"
MINIO_DATA="$STATE/minio/data"
MINIO_PID="$STATE/minio/minio.pid"
MINIO_LOG="$STATE/logs/minio.log"
ENV_FILE="$STATE/services.env"
SETTINGS="$STATE/settings"           # the settings the running services were started with

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# One services command at a time per state dir: services-up racing services-down would
# leave half a cluster. The lock sits beside the state dir because services-down deletes
# the dir itself.
# Held for seconds at most (starting a server), so a long wait means a stuck holder:
# say who it is instead of hanging a test run.
take_lock() {
  mkdir -p "$(dirname "$STATE")"
  exec 8>"$STATE.lock"
  flock -w 180 8 || die "$STATE.lock is held for 3 min; it is open in: $(lock_holders)"
}

# "pid name, ..." of the processes outside our own process group that have the lock
# file open.
lock_holders() {
  local pid pgid out="" ours
  ours="$(ps -o pgid= -p $$ | tr -d ' ')"
  for pid in $(fuser "$STATE.lock" 2>/dev/null); do
    pgid="$(ps -o pgid= -p "$pid" | tr -d ' ')"
    # Empty: the process is gone already (fuser lists its own short-lived helpers).
    [[ -z "$pgid" || "$pgid" == "$ours" ]] || out+="$pid $(ps -p "$pid" -o comm=), "
  done
  echo "${out%, }"
}

# The settings that must match between a running service and this invocation.
current_settings() {
  # Shell syntax, so hack/services-ctl can source it.
  printf 'PG_PORT=%s\nS3_PORT=%s\nS3_CONSOLE_PORT=%s\nLISTEN_ADDR=%s\n' \
    "$PG_PORT" "$S3_PORT" "$S3_CONSOLE_PORT" "$LISTEN_ADDR"
}

# ---------------------------------------------------------------------------- PostgreSQL

# PostgreSQL refuses to run as root, and CI runs as root: then the server runs as the
# `postgres` system user (made by Debian's package). Anyone else runs it as themselves.
pg_os_user() {
  if [[ $EUID -eq 0 ]]; then echo postgres; else id -un; fi
}

# Runs a command as the OS user that owns the cluster.
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Sets PG_BIN to a directory holding initdb/pg_ctl/postgres/psql, installing Debian's
# `postgresql` package when none is there (a fresh machine of another kind).
find_pg_bin() {
  local dir
  if [[ -n "${MLCYCLE_PG_BINDIR:-}" ]]; then
    PG_BIN="$MLCYCLE_PG_BINDIR"
  else
    PG_BIN=""
    # Newest major version first (sort -V), Debian's layout.
    for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
      if [[ -x "$dir/postgres" && -x "$dir/initdb" && -x "$dir/psql" ]]; then
        PG_BIN="$dir"
        break
      fi
    done
    if [[ -z "$PG_BIN" ]]; then
      [[ $EUID -eq 0 ]] || die "PostgreSQL server not installed; as root: apt-get install postgresql"
      [[ "${1:-}" != installed ]] || die "apt-get installed postgresql, but no server binaries in /usr/lib/postgresql"
      log "installing PostgreSQL from Debian's packages"
      # The package also creates a default cluster on port 5432; we leave it alone and
      # run our own cluster on $PG_PORT. The lock timeout waits out a concurrent apt.
      export DEBIAN_FRONTEND=noninteractive
      apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
      apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends postgresql >&2
      find_pg_bin installed
      return
    fi
  fi
  [[ -x "$PG_BIN/pg_ctl" ]] || die "no pg_ctl in $PG_BIN"
  if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    die "running as root but there is no 'postgres' user to run the server (apt-get install postgresql makes it)"
  fi
}

pg_running() {
  [[ -f "$PGDATA/PG_VERSION" ]] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1
}

# Makes the throwaway cluster once; later calls only refresh its settings file.
pg_init() {
  local owner
  owner="$(pg_os_user)"
  mkdir -p "$STATE/postgres" "$STATE/logs"
  # The server user must be able to walk into the state dir (root's umask may deny it)
  # and own its own corner of it.
  chmod 755 "$STATE" "$STATE/postgres"
  chown "$owner" "$STATE/postgres" "$STATE/logs"
  as_pg test -x "$STATE/postgres" ||
    die "user $owner cannot reach $STATE (a parent dir is closed); set MLCYCLE_STATE elsewhere"

  if [[ ! -f "$PGDATA/PG_VERSION" ]]; then
    log "creating a PostgreSQL cluster in $PGDATA"
    # Superuser `postgres`, trusted only on our private unix socket (used below to make
    # the role and database); every TCP client must give a password (scram-sha-256).
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 --encoding=UTF8 --no-locale >"$STATE/logs/initdb.log" 2>&1 ||
      { cat "$STATE/logs/initdb.log" >&2; die "initdb failed"; }
    echo "include_if_exists = 'mlcycle.conf'" | as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null
  fi
  as_pg mkdir -p "$PG_SOCKET_DIR"
  as_pg chmod 700 "$PG_SOCKET_DIR"

  # Rewritten on every start, so a changed port or listen address takes effect.
  as_pg tee "$PGDATA/mlcycle.conf" >/dev/null <<EOF
# Written by hack/services-up; rewritten at every start.
port = $PG_PORT
listen_addresses = '$LISTEN_ADDR'
unix_socket_directories = '$PG_SOCKET_DIR'
# Test suites open pools from several processes.
max_connections = 200
# Throwaway data: skip fsync for speed. A stop, even 'immediate', still keeps every
# committed row (the OS holds the writes); only a machine crash could lose them.
fsync = off
full_page_writes = off
EOF
  # Pods of a local Kubernetes come from other addresses: allow them, with a password.
  if [[ "$LISTEN_ADDR" == 0.0.0.0 ]] && ! grep -q '^# mlcycle: listen all' "$PGDATA/pg_hba.conf"; then
    as_pg tee -a "$PGDATA/pg_hba.conf" >/dev/null <<EOF
# mlcycle: listen all
host all all 0.0.0.0/0 scram-sha-256
host all all ::/0 scram-sha-256
EOF
  fi
}

pg_start() {
  if pg_running; then
    log "PostgreSQL already running on port $PG_PORT"
    return
  fi
  [[ -f "$PGDATA/PG_VERSION" ]] || die "no PostgreSQL cluster in $PGDATA: run hack/services-up"
  log "starting PostgreSQL on $LISTEN_ADDR:$PG_PORT"
  # -w waits until the server accepts connections (or fails: then show its log).
  # 8>&-: the server must not inherit our lock (take_lock), or it would hold it for
  # its whole life and every later services command would wait forever.
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t 60 start >/dev/null 8>&- ||
    { tail -n 30 "$PG_LOG" >&2 || true; die "PostgreSQL did not start (log: $PG_LOG)"; }
  pg_wait_ready
}

# mode: fast (default: clean shutdown, clients cut off) or immediate (like a crash:
# no checkpoint, WAL replay at the next start).
pg_stop() {
  local mode="${1:-fast}"
  if ! pg_running; then
    log "PostgreSQL not running"
    return
  fi
  log "stopping PostgreSQL ($mode)"
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m "$mode" -w -t 60 stop >/dev/null
}

# Ready means: accepts TCP connections at the address the tests use.
pg_wait_ready() {
  local i
  for ((i = 0; i < 60; i++)); do
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; then return; fi
    sleep 1
  done
  die "PostgreSQL does not answer on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
}

# The test role and database, made once and kept across restarts. The role is mlcycle's admin
# as the operator has it: not a superuser, but it creates the tenants' roles (CREATEROLE).
pg_provision() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres -d postgres <<EOF
SELECT format('CREATE ROLE %I LOGIN CREATEDB CREATEROLE PASSWORD %L', '$DB_USER', '$DB_PASSWORD')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') \gexec
SELECT format('ALTER ROLE %I CREATEROLE', '$DB_USER') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', '$DB_NAME', '$DB_USER')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') \gexec
EOF
}

# --------------------------------------------------------------------------------- MinIO

minio_pid() {
  local pid
  [[ -f "$MINIO_PID" ]] || return 1
  pid="$(cat "$MINIO_PID")"
  # Check the name too: after a reboot the pid may belong to another process.
  [[ "$pid" =~ ^[0-9]+$ ]] && [[ "$(ps -p "$pid" -o comm= 2>/dev/null)" == minio ]] || return 1
  echo "$pid"
}

minio_running() { minio_pid >/dev/null; }

minio_start() {
  local bin
  if minio_running; then
    log "MinIO already running on port $S3_PORT"
    return
  fi
  bin="$("$HACK_DIR/build-minio")"
  mkdir -p "$MINIO_DATA" "$STATE/logs"
  log "starting MinIO on $LISTEN_ADDR:$S3_PORT (console $LISTEN_ADDR:$S3_CONSOLE_PORT)"
  # setsid: MinIO must outlive this script and not die with the caller's process group
  # (a CI step or a test runner that started services-up). The inner shell writes its
  # own pid, then execs MinIO, so the pid file holds MinIO's pid. 8>&- as in pg_start.
  # MINIO_UPDATE=off: no update checks against the internet (there is none here).
  # shellcheck disable=SC2016  # $$ and $1 are for the inner shell
  MINIO_ROOT_USER="$S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$S3_SECRET_KEY" \
    MINIO_SITE_REGION="$S3_REGION" MINIO_UPDATE=off MINIO_BROWSER=on \
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$MINIO_PID" \
    "$bin" server --quiet --address "$LISTEN_ADDR:$S3_PORT" \
    --console-address "$LISTEN_ADDR:$S3_CONSOLE_PORT" "$MINIO_DATA" \
    </dev/null >>"$MINIO_LOG" 2>&1 8>&- &
  minio_wait_ready
}

minio_wait_ready() {
  local i deadline=$((SECONDS + ${MLCYCLE_MINIO_START_TIMEOUT:-300}))
  # A deadline, not a count of tries: a machine loaded by parallel builds starts MinIO slowly.
  for ((i = 0; SECONDS < deadline; i++)); do
    if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$S3_PORT/minio/health/ready" 2>/dev/null; then
      return
    fi
    # Give the pid file a moment to appear before deciding MinIO died.
    if ((i > 2)) && ! minio_running; then
      tail -n 30 "$MINIO_LOG" >&2 || true
      die "MinIO exited (log: $MINIO_LOG)"
    fi
    sleep 0.5
  done
  die "MinIO does not answer on 127.0.0.1:$S3_PORT after ${MLCYCLE_MINIO_START_TIMEOUT:-300} s (log: $MINIO_LOG)"
}

minio_stop() {
  local pid i
  if ! pid="$(minio_pid)"; then
    log "MinIO not running"
    rm -f "$MINIO_PID"
    return
  fi
  log "stopping MinIO (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  # Still there after 20 s: it is a throwaway server, kill it.
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$MINIO_PID"
}

# ------------------------------------------------------------------------------ env file

write_env_file() {
  local tmp="$ENV_FILE.tmp.$$"
  # The tests always connect via loopback, even when the services listen on all
  # interfaces; a Kubernetes helper substitutes the host IP itself.
  cat >"$tmp" <<EOF
MLCYCLE_TEST_DATABASE_URL=postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME
MLCYCLE_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
MLCYCLE_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY
MLCYCLE_TEST_S3_SECRET_KEY=$S3_SECRET_KEY
MLCYCLE_TEST_S3_REGION=$S3_REGION
EOF
  mv -f "$tmp" "$ENV_FILE"
}
