#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on loopback for the test suite.
#
#   eval "$(bash .ci/postgres.sh start)"   # exports SF_STRIPE_SYNC_TEST_PG_URL and SFSS_PG_DATA
#   bash .ci/postgres.sh stop "$SFSS_PG_DATA"
#
# Uses the newest /usr/lib/postgresql/*/bin; installs Debian's `postgresql` package when
# there is none (root only). The server runs as the `postgres` user when started by root
# (PostgreSQL refuses to run as root), with a data directory under /tmp, trust auth on
# 127.0.0.1 only, a free port, and fsync off (the data is thrown away). Exits non-zero
# when the server cannot be started: CI must not silently skip the Postgres tests.
set -euo pipefail

pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    local bin
    bin="$(pg_bin)"
    if [ -z "$bin" ]; then
        if [ "$(id -u)" != 0 ]; then
            echo "PostgreSQL is not installed and this user cannot apt-get it" >&2
            exit 1
        fi
        echo "installing PostgreSQL (Debian package postgresql)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql >&2
        bin="$(pg_bin)"
    fi
    local data port
    data="$(mktemp -d /tmp/sfss-pg.XXXXXX)"
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$data"
    fi
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    as_owner "$bin/initdb" -D "$data/db" -U postgres -A trust --no-sync -E UTF8 >"$data/initdb.log" 2>&1 \
        || { cat "$data/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >&2 || { cat "$data/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres sfss_test >&2
    echo "export SF_STRIPE_SYNC_TEST_PG_URL=postgresql://postgres@127.0.0.1:$port/sfss_test"
    echo "export SFSS_PG_DATA=$data"
}

stop() {
    local data="$1" bin
    bin="$(pg_bin)"
    if [ -n "$data" ] && [ -d "$data/db" ]; then
        as_owner "$bin/pg_ctl" -D "$data/db" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$data"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    *) echo "usage: $0 start | stop DATA_DIR" >&2; exit 2 ;;
esac
