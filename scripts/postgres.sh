#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on a free local port, for the tests and for trying replicas.
#
#   scripts/postgres.sh start DIR [--until PID]   initialise DIR (if new), start the server, create
#                                                 the database `zp`, print its postgres:// URL
#   scripts/postgres.sh createdb DIR NAME         create database NAME, print its URL
#   scripts/postgres.sh stop DIR                  stop the server by the process id in
#                                                 DIR/postmaster.pid
#
# With --until PID, a watcher stops the cluster when process PID ends, and deletes DIR if this
# command created it: test runs need no exit hook and leave nothing behind, even on a crash.
#
# PostgreSQL comes from the system: the newest /usr/lib/postgresql/*/bin (Debian), else initdb
# and postgres on the PATH, else it is installed from Debian's packages (as root, or with sudo).
# The package's own cluster plays no part. Run as root, the cluster runs as the `postgres` user,
# because PostgreSQL refuses to run as root. Authentication is `trust` and the server listens on
# 127.0.0.1 only: this is for tests, never for data that matters.
set -euo pipefail

# This script's absolute path: start changes directory before it launches the watcher.
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

# The prefix that runs a command as the cluster's owner: the `postgres` user when we are root,
# because PostgreSQL refuses to run as root. An array rather than a function, so that
# `"${AS_OWNER[@]}" postgres ... &` makes the server itself our child, with nothing in between.
AS_OWNER=()
if [ "$(id -u)" -eq 0 ]; then
    AS_OWNER=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi

die() {
    echo "postgres.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '2,9p' "$SELF" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Puts PostgreSQL's server programs first on the PATH, installing them when missing.
find_postgres() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -n -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then
            PATH="$dir:$PATH"
            return 0
        fi
    done
    command -v initdb >/dev/null && command -v postgres >/dev/null && command -v pg_isready >/dev/null &&
        command -v psql >/dev/null
}

install_postgres() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "PostgreSQL is not installed; install the postgresql package"
        sudo=(sudo)
    fi
    command -v apt-get >/dev/null || die "PostgreSQL is not installed and this is not Debian: install it"
    echo "postgres.sh: installing PostgreSQL from Debian's packages" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        -o DPkg::Lock::Timeout=300 postgresql >&2
}

# Line N of DIR/postmaster.pid, which the server writes: 1 is its process id, 4 its port.
pid_line() {
    [ -f "$1/postmaster.pid" ] || return 1
    sed -n "$2p" "$1/postmaster.pid"
}

# A port nothing listens on. Another process may take it before the server binds it: start
# then tries again with another.
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
}

url_of() {
    echo "postgres://postgres@127.0.0.1:$1/$2"
}

create_database() {
    local dir=$1 name=$2 port
    [[ "$name" =~ ^[a-z][a-z0-9_]{0,62}$ ]] || die "database name $name: use a-z, 0-9 and _"
    port=$(pid_line "$dir" 4) || die "no server is running in $dir"
    psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE DATABASE $name" >&2
    url_of "$port" "$name"
}

start() {
    local dir=$1 until=${2:-} created=0 port pid tries deadline out
    find_postgres || { install_postgres && find_postgres; } || die "no initdb and postgres after installing"
    if [ ! -e "$dir" ]; then
        mkdir -p "$dir"
        created=1
    fi
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "run as root, the cluster needs the user postgres"
        chown postgres:postgres "$dir"
        "${AS_OWNER[@]}" test -w "$dir" ||
            die "the postgres user cannot reach $dir: choose a directory under a world-searchable one, like /tmp"
    fi
    chmod 700 "$dir"
    # The owner may not be able to enter the caller's working directory.
    cd "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
        [ -z "$(ls -A "$dir")" ] || die "$dir is neither empty nor a cluster"
        out=$("${AS_OWNER[@]}" initdb -D "$dir" -U postgres -A trust -E UTF8 --no-locale 2>&1) ||
            { echo "$out" >&2; die "initdb failed"; }
    fi
    if pid=$(pid_line "$dir" 1) && kill -0 "$pid" 2>/dev/null; then
        die "a server (process $pid) already runs in $dir"
    fi
    for tries in 1 2 3 4 5; do
        port=$(free_port)
        "${AS_OWNER[@]}" postgres -D "$dir" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 -c fsync=on \
            -c max_connections=300 -c shared_buffers=32MB >>"$dir/postgres.log" 2>&1 </dev/null &
        pid=$!
        deadline=$((SECONDS + 60))
        while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
            if pg_isready -q -h 127.0.0.1 -p "$port" -d postgres -U postgres; then
                break
            fi
            sleep 0.05
        done
        if pg_isready -q -h 127.0.0.1 -p "$port" -d postgres -U postgres; then
            break
        fi
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        [ "$tries" -lt 5 ] || { tail -n 20 "$dir/postgres.log" >&2; die "the server did not start"; }
    done
    if [ -n "$until" ]; then
        # Detached, with no open descriptors of ours, so a caller reading our output is not held.
        setsid "$BASH" "$SELF" watch "$dir" "$until" "$created" </dev/null >/dev/null 2>&1 &
    fi
    create_database "$dir" zp
}

stop() {
    local dir=$1 pid deadline
    if ! pid=$(pid_line "$dir" 1) || ! kill -0 "$pid" 2>/dev/null; then
        echo "postgres.sh: no server is running in $dir" >&2
        return 0
    fi
    # SIGINT is PostgreSQL's fast shutdown: roll back open transactions, checkpoint, exit.
    kill -INT "$pid"
    deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        sleep 0.05
    done
}

watch() {
    local dir=$1 owner=$2 created=$3
    while kill -0 "$owner" 2>/dev/null; do
        sleep 1
    done
    stop "$dir"
    if [ "$created" = 1 ]; then
        rm -rf -- "$dir"
    fi
}

case "${1:-}" in
    start)
        [ $# -eq 2 ] || { [ $# -eq 4 ] && [ "$3" = --until ]; } || usage
        start "$2" "${4:-}"
        ;;
    createdb)
        [ $# -eq 3 ] || usage
        find_postgres || die "PostgreSQL is not installed: run start first"
        create_database "$2" "$3"
        ;;
    stop)
        [ $# -eq 2 ] || usage
        stop "$2"
        ;;
    watch)
        [ $# -eq 4 ] || usage
        watch "$2" "$3" "$4"
        ;;
    *)
        usage
        ;;
esac
