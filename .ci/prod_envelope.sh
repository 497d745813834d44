#!/usr/bin/env bash
# The production envelope, for real, on PostgreSQL (called by .ci/run; runnable alone):
#   1. a fresh database with the demo data, then `make prod` (collectstatic, migrate,
#      createcachetable, gunicorn + db_worker under honcho) with the production settings;
#   2. waits for /healthz, then .ci/prod_smoke.py signs in and has the worker rate a month;
#   3. checks that the web process logged JSON lines carrying MS-RequestId;
#   4. a bounded schemathesis pass over /v1/openapi.json (.ci/schemathesis.sh);
#   5. stops everything (also on failure).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PROD_PORT:-8765}"
DB="${PROD_DB:-portal_ci_prod}"
BASE_URL="http://127.0.0.1:${PORT}"
LOG="var/prod-envelope.log"
mkdir -p var

# WITH (FORCE): a connection left by an earlier run that died must not keep the database.
psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)" -c "CREATE DATABASE ${DB}"

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB}"
export SECRET_KEY="ci-prod-envelope-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export ALLOWED_HOSTS="127.0.0.1,localhost"
export SECURE_SSL_REDIRECT=1 SECURE_HSTS_SECONDS=3600 SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https"
export LOG_FORMAT=json WEB_CONCURRENCY=2
# Schemathesis makes hundreds of calls a minute from one address, many without a good token.
export API_THROTTLE_TOKEN=100000/min API_THROTTLE_ADDRESS=100000/min API_THROTTLE_AUTH_FAILURE=100000/min

make install >/dev/null
.venv/bin/python manage.py migrate --noinput -v 0
.venv/bin/python manage.py seed_demo

# setsid: make and honcho in one process group of their own, stopped together.
setsid make prod PORT="${PORT}" >"${LOG}" 2>&1 &
PROD_PID=$!
# honcho starts gunicorn and the worker in sessions of their own, outside make's process group:
# they are found as descendants first and stopped one by one, so that none outlives the run.
descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do echo "${child}"; descendants "${child}"; done
}
running() {  # any of these pids alive (a zombie left to an init that does not reap counts as gone)
  local pid
  for pid in "$@"; do
    case "$(ps -o stat= -p "${pid}" 2>/dev/null)" in ""|Z*) ;; *) return 0 ;; esac
  done
  return 1
}
stop() {
  local pids pid
  pids="$(descendants "${PROD_PID}")"
  kill -TERM -- "-${PROD_PID}" 2>/dev/null || true
  for pid in ${pids}; do kill -TERM "${pid}" 2>/dev/null || true; done
  for _ in $(seq 1 20); do running "${PROD_PID}" ${pids} || break; sleep 0.5; done
  kill -KILL -- "-${PROD_PID}" 2>/dev/null || true
  for pid in ${pids}; do kill -KILL "${pid}" 2>/dev/null || true; done
}
trap stop EXIT

echo "== waiting for ${BASE_URL}/healthz"
for i in $(seq 1 90); do
  if .venv/bin/python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "${BASE_URL}/healthz" 2>/dev/null; then break; fi
  if ! kill -0 "${PROD_PID}" 2>/dev/null || [ "$i" = 90 ]; then
    echo "make prod did not come up:" >&2; tail -n 40 "${LOG}" >&2; exit 1
  fi
  sleep 1
done

.venv/bin/python .ci/prod_smoke.py "${BASE_URL}" staff@portal.example demo-pass-123

echo "== JSON request lines carry the answered MS-RequestId"
REQUEST_ID="$(.venv/bin/python -c "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).headers['MS-RequestId'])" "${BASE_URL}/healthz")"
sleep 1
.venv/bin/python - "${LOG}" "${REQUEST_ID}" <<'EOF'
import json, sys
log, request_id = sys.argv[1], sys.argv[2]
lines = []
for raw in open(log, encoding="utf-8"):
    _, sep, rest = raw.partition("| ")  # honcho's "time web.1 | " prefix
    if sep and rest.startswith("{"):
        lines.append(json.loads(rest))
mine = [l for l in lines if l.get("request_id") == request_id and l.get("logger") == "portal.request"]
assert mine and mine[0]["path"] == "/healthz" and mine[0]["status"] == 200, (request_id, lines[-5:])
tasks = [l for l in lines if l.get("logger") == "portal.task" and l.get("status") == "SUCCESSFUL"]
assert tasks, "no portal.task line from the worker"
print(f"prod envelope: {len(lines)} JSON log lines; request {request_id} found; {len(tasks)} task line(s)")
EOF

TOKEN="$(.venv/bin/python manage.py create_api_token alan@contoso.example --name schemathesis)"
bash .ci/schemathesis.sh "${BASE_URL}" "${TOKEN}"

echo "== prod envelope: all good"
