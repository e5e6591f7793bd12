#!/usr/bin/env bash
# Starts a throwaway MariaDB server (Debian's mariadb-server) on 127.0.0.1 for the store
# conformance suite: its data, socket, pid file and log all in DIR; no system service, nothing
# in /etc.
#
#   scripts/mariadb.sh start DIR PORT   # prints mysql://protector:PASSWORD@127.0.0.1:PORT/protector
#   scripts/mariadb.sh stop DIR
#
# `start` on a DIR whose server was stopped starts it again with its data and password.
# Then: PROTECTOR_TEST_MYSQL_URL=<that URL> cargo test -p protector-core --features mariadb mysql
# The user "protector" (random password, kept in DIR/url, mode 600) may create databases: each
# conformance test makes one of its own. The first start installs mariadb-server with apt-get
# when no mariadbd/mysqld is found (needs root).
set -euo pipefail
cmd=${1:?start|stop}; D=${2:?directory}; PORT=${3:-3307}
mkdir -p "$D"; D=$(cd "$D" && pwd)
if [ "$cmd" = stop ]; then
  if [ -f "$D/mariadb.pid" ]; then
    pid=$(cat "$D/mariadb.pid")
    kill "$pid" 2>/dev/null || true
    # The server removes its pid file once it has shut down.
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    rm -f "$D/mariadb.pid"
  fi
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2; }

find_server() {
  for name in mariadbd mysqld; do
    for path in "$(command -v "$name" 2>/dev/null || true)" "/usr/sbin/$name"; do
      [ -n "$path" ] && [ -x "$path" ] && { echo "$path"; return 0; }
    done
  done
  return 1
}
if ! server=$(find_server); then
  echo "installing mariadb-server with apt-get (no mariadbd found)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Debian's maintainer scripts would start the system service: forbid it.
  # Removed right after the install, whatever its outcome: left behind, it would stop every
  # service of the machine from starting.
  ours=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    ours=1
  fi
  installed=0
  apt-get update -qq >&2 &&
    apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client >&2 &&
    installed=1
  [ "$ours" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$installed" = 1 ] || { echo "apt-get could not install mariadb-server" >&2; exit 1; }
  server=$(find_server) || { echo "mariadb-server installed but no mariadbd found" >&2; exit 1; }
fi
client=$(command -v mariadb || command -v mysql)
admin=$(command -v mariadb-admin || command -v mysqladmin)
install_db=$(command -v mariadb-install-db || command -v mysql_install_db)

sock="$D/mariadb.sock"
if [ -f "$D/mariadb.pid" ] && kill -0 "$(cat "$D/mariadb.pid")" 2>/dev/null && [ -f "$D/url" ]; then
  cat "$D/url"; exit 0
fi
user_args=()
[ "$(id -u)" = 0 ] && user_args=(--user=root)
if [ ! -d "$D/data/mysql" ]; then
  rm -rf "$D/data"
  "$install_db" --no-defaults --datadir="$D/data" --auth-root-authentication-method=normal \
    "${user_args[@]}" --skip-test-db >"$D/install.log" 2>&1 \
    || { echo "mariadb-install-db failed; see $D/install.log" >&2; exit 1; }
fi
"$server" --no-defaults --datadir="$D/data" --socket="$sock" --pid-file="$D/mariadb.pid" \
  --bind-address=127.0.0.1 --port="$PORT" --log-error="$D/mariadb.log" \
  --character-set-server=utf8mb4 --collation-server=utf8mb4_bin \
  --skip-name-resolve --innodb-buffer-pool-size=64M "${user_args[@]}" >/dev/null 2>&1 &
server_pid=$!
# Wait until it answers on its socket (poll, not a fixed sleep).
for _ in $(seq 1 300); do
  if "$admin" --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { echo "mariadbd exited; see $D/mariadb.log" >&2; exit 1; }
  sleep 0.1
done
"$admin" --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1 \
  || { echo "mariadbd did not answer within 30 s; see $D/mariadb.log" >&2; exit 1; }

# A restart on the same DIR keeps the user's password (services configured with the URL
# reconnect); a first start makes a random one.
password=$(sed -n 's|^mysql://protector:\([0-9a-f]*\)@.*|\1|p' "$D/url" 2>/dev/null || true)
[ -n "$password" ] || password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
"$client" --no-defaults --socket="$sock" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS protector CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS 'protector'@'127.0.0.1' IDENTIFIED BY '$password';
ALTER USER 'protector'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO 'protector'@'127.0.0.1';
SQL
url="mysql://protector:$password@127.0.0.1:$PORT/protector"
(umask 077; echo "$url" > "$D/url")
echo "$url"
