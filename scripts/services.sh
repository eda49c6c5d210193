#!/usr/bin/env bash
# Make sure the Redis and PostgreSQL the tests need are reachable, and export where they are.
# Source it: `. scripts/services.sh`. Uses the machine's own servers when they answer on
# 127.0.0.1:6379 / 127.0.0.1:5432; otherwise starts private ones (installing the Debian
# packages when run as root), and says so. NURTURE_TEST_OWN_SERVICES=1 forces private ones.
# With CI=true a service that cannot be had is an error; locally the tests that need it skip
# with a message naming it.

_say() { echo "services: $*" >&2; }
_root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_state="${NURTURE_TEST_STATE_DIR:-/tmp/nurture-test-services}"
mkdir -p "$_state"

_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

_apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    _say "installing $* with apt-get"
    if [ ! -f "$_state/apt-updated" ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && touch "$_state/apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    return 1
  fi
}

_ensure_redis() {
  if [ "${NURTURE_TEST_OWN_SERVICES:-}" != 1 ] && _port_open 6379; then
    _say "Redis: using the server on 127.0.0.1:6379"
    export NURTURE_TEST_REDIS_PORT=6379
    return 0
  fi
  local port=6391
  if ! _port_open "$port"; then
    command -v redis-server >/dev/null || _apt_install redis-server || {
      _say "Redis: not running and redis-server is not installed (apt-get install redis-server)"
      return 1; }
    _say "Redis: starting a private server on 127.0.0.1:$port"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --dir "$_state" --logfile "$_state/redis.log" --pidfile "$_state/redis.pid" >/dev/null
    for _ in $(seq 50); do _port_open "$port" && break; sleep 0.1; done
  fi
  export NURTURE_TEST_REDIS_PORT=$port
}

_pg_ok() { # $1 port
  PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -p "$1" -U postgres -d test -Atc 'select 1' >/dev/null 2>&1
}

_ensure_postgres() {
  if [ "${NURTURE_TEST_OWN_SERVICES:-}" != 1 ] && command -v psql >/dev/null && _pg_ok 5432; then
    _say "PostgreSQL: using the server on 127.0.0.1:5432 (database test)"
    export NURTURE_TEST_PG="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    return 0
  fi
  local port=54391 data="$_state/pgdata" bin
  if ! (command -v psql >/dev/null && _pg_ok "$port"); then
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$bin" ]; then
      _apt_install postgresql postgresql-client || {
        _say "PostgreSQL: not running and not installed (apt-get install postgresql)"
        return 1; }
      bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    local run=()
    if [ "$(id -u)" = 0 ]; then
      id postgres >/dev/null 2>&1 || useradd --system --home "$_state" postgres
      chown postgres "$_state"
      run=(runuser -u postgres --)
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
      _say "PostgreSQL: creating a private cluster in $data"
      "${run[@]}" "$bin/initdb" -D "$data" -U postgres -A trust >/dev/null
    fi
    _say "PostgreSQL: starting a private server on 127.0.0.1:$port"
    "${run[@]}" "$bin/pg_ctl" -D "$data" -l "$_state/postgres.log" -w \
      -o "-p $port -k $_state -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    "${run[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres test 2>/dev/null || true
  fi
  export NURTURE_TEST_PG="postgresql+psycopg://postgres@127.0.0.1:$port/test"
}

_ensure_redis || { [ "${CI:-}" = true ] && _say "CI=true: Redis is required" && return 1; }
_ensure_postgres || { [ "${CI:-}" = true ] && _say "CI=true: PostgreSQL is required" && return 1; }
return 0 2>/dev/null || true
