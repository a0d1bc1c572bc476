#!/usr/bin/env bash
# The store's tests use the local PostgreSQL for real (127.0.0.1:5432,
# database `test`). Start the cluster if it is installed but stopped;
# fail with a clear message if there is none.
set -euo pipefail
url="${VIGIL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
    exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    echo "ensure-postgres: starting PostgreSQL ${version}" >&2
    pg_ctlcluster --skip-systemctl-redirect "${version}" main start || true
    for _ in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 -p 5432 && exit 0
        sleep 1
    done
fi
echo "ensure-postgres: no PostgreSQL answers on 127.0.0.1:5432; the tests need one ($url)" >&2
exit 1
