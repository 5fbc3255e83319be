#!/usr/bin/env bash
# Makes sure PostgreSQL answers on DATABASE_URL's host (127.0.0.1:5432 by
# default): starts a local Debian cluster if one is installed but stopped,
# otherwise says how to get one.
set -euo pipefail
host=${PGHOST:-127.0.0.1}
port=${PGPORT:-5432}

answers() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

answers && exit 0
if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    echo "Starting the local PostgreSQL $version cluster..."
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do answers && exit 0; sleep 1; done
fi
cat >&2 <<MSG
No PostgreSQL server answers at $host:$port. Start one, for example:
  Debian/Ubuntu:  sudo apt-get install -y postgresql && sudo pg_ctlcluster 15 main start
  macOS:          brew install postgresql@15 && brew services start postgresql@15
  Docker:         docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:15
or set DATABASE_URL (and PGHOST/PGPORT for this check) to a server you have.
MSG
exit 1
