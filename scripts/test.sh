#!/usr/bin/env bash
# The whole suite on SQLite, then again on PostgreSQL (started if installed but stopped).
# Where no PostgreSQL can be had, say so clearly and still pass on SQLite.
set -uo pipefail
BIN=.venv/bin
PG_URL=${JKFP_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/jkfp${JKFP_DB_SUFFIX:-}}

echo "== pytest on SQLite =="
env -u DATABASE_URL $BIN/pytest -q "$@" || exit $?

pg_ready() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }
if ! pg_ready && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
  done
  for _ in $(seq 1 20); do pg_ready && break; sleep 0.5; done
fi
if pg_ready; then
  echo "== pytest on PostgreSQL ($PG_URL) =="
  DATABASE_URL=$PG_URL $BIN/pytest -q "$@" || exit $?
else
  echo "!! PostgreSQL 不可用：测试只在 SQLite 上运行 / PostgreSQL is not available here: the suite ran on SQLite only"
fi

echo "== benchmarks at small size =="
$BIN/python -m benchmarks --small || exit $?
