#!/usr/bin/env bash
# Benchmarks the list pages against the least a page can do, in one run on one database: a
# customer with 200 containers (and 999 others with 20 each), each with a finished restart.
#   reference              benches/reference_page.rs: one query, one template, no auth, no layout
#   /containers            the page, signed in (session cookie)
#   /dashboard             the customer's dashboard, signed in (BENCH_DASHBOARD=0 leaves it out)
#   /api/containers        the API, HTTP Basic (verified credentials remembered) and a bearer token
# For each it prints p50/p99 and req/s at BENCH_CONNECTIONS (16) connections and p99 at one,
# the ratio of its req/s to the reference's, and the SQL statements per request (transactions
# committed in the database per request: on the steady path each statement is its own).
#
# BENCH_DURATION (10s per run); BENCH_BIN, a distropanel binary built before (another commit's,
# to compare), skips building it, and BENCH_REFERENCE the reference page's. Release builds.
# Needs the local PostgreSQL (scripts/setup).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-16}
# wrk, else (much slower as a client, so ratios at many connections are lower bounds) a Python
# keep-alive client
load() {  # CONNECTIONS HEADER URL
  if command -v wrk >/dev/null; then
    wrk -t"$(( $1 > 1 ? 2 : 1 ))" -c"$1" -d"$duration" --latency -H "$2" "$3"
  else
    python3 scripts/http_bench.py "$1" "$duration" "$3" "$2"
  fi
}
command -v wrk >/dev/null || echo "bench-pages: no wrk (apt-get install wrk); measuring with scripts/http_bench.py" >&2
target=${CARGO_TARGET_DIR:-target}
[ -n "${BENCH_BIN:-}" ] || cargo build --release --bins --locked
reference=${BENCH_REFERENCE:-$(cargo build --release --bench reference_page --locked --message-format=json \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "reference_page" and m.get("executable"):
        print(m["executable"])')}
bin=${BENCH_BIN:-$target/release/distropanel}

db=dp_bench_pages
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
  psql -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
}
trap cleanup EXIT

export DATABASE_URL="host=/var/run/postgresql dbname=$db"
export DISTROPANEL_VAR_DIR="$work/var" DISTROPANEL_HOST_ROOT="$work/host" RUST_LOG=warn
export DISTROPANEL_DB_POOL=${DISTROPANEL_DB_POOL:-16}
psql -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
psql -d postgres -qc "CREATE DATABASE $db"
"$bin" migrate >/dev/null
password='bench-password'
"$bin" customer add --username bench --email bench@example.com --password "$password" >/dev/null
psql -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
INSERT INTO customers (company) SELECT 'Customer ' || i FROM generate_series(2, 1000) i;
INSERT INTO servers (name, address) SELECT 's' || i, 's' || i || '.example.com' FROM generate_series(1, 20) i;
INSERT INTO distros (name, path) SELECT 'Distro ' || i, 'distro' || i FROM generate_series(1, 5) i;
INSERT INTO containers (name, customer_id, server_id, distro_id, memory_mb, storage_mb, tags)
SELECT 'bench' || i, 1, 1 + i % 20, 1 + i % 5, 128, 1024, ARRAY['t' || (i % 4)] FROM generate_series(1, 200) i;
INSERT INTO containers (name, customer_id, server_id, distro_id, memory_mb, storage_mb, tags)
SELECT 'c' || i, 2 + i % 999, 1 + i % 20, 1 + i % 5, 128, 1024, ARRAY['t' || (i % 4)]
FROM generate_series(1, 19980) i;
INSERT INTO jobs (kind, container_id, customer_id, server_id, state, attempts, finished_at)
SELECT 'restart', id, customer_id, server_id, 'done', 1, now() FROM containers;
VACUUM ANALYZE;
SQL

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port) ref_port=$(free_port)
DISTROPANEL_BIND="127.0.0.1:$port" "$bin" serve >>"$work/serve.log" 2>&1 &
pids+=($!)
REFERENCE_BIND="127.0.0.1:$ref_port" REFERENCE_CUSTOMER=1 "$reference" >>"$work/reference.log" 2>&1 &
pids+=($!)
for url in "http://127.0.0.1:$port/healthz" "http://127.0.0.1:$ref_port/"; do
  for _ in $(seq 1 150); do curl -fs "$url" >/dev/null 2>&1 && break; sleep 0.2; done
done
base="http://127.0.0.1:$port"

# a session: the login form's token from its page and cookie, then the form
jar="$work/cookies"
form_token=$(curl -fs -c "$jar" "$base/login" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1)
curl -fs -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf_token=$form_token" \
  --data-urlencode username=bench --data-urlencode "password=$password" "$base/login"
session=$(awk '$6 == "distropanel_session" {print $7}' "$jar")
[ -n "$session" ] || { echo "bench-pages: could not log in" >&2; exit 1; }
basic="Authorization: Basic $(printf 'bench:%s' "$password" | base64 -w0)"
token=$(curl -fs -H "$basic" -X POST "$base/api/tokens" -d '{"name": "bench"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
spid=${pids[0]}
echo "server pid $spid"
perf record -g -e cpu-clock -F 999 -p $spid -o /tmp/web.perf -- sleep 8 >/dev/null 2>&1 &
wrk -t2 -c16 -d8s -H "Authorization: Bearer $token" "$base/api/containers" | grep Requests
sleep 1
perf record -a -e cpu-clock -F 999 -o /tmp/all.perf -- wrk -t2 -c16 -d6s -H "Cookie: distropanel_session=$session" "$base/containers" | grep Requests
wait
