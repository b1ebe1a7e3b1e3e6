#!/usr/bin/env bash
# End-to-end smoke run against the real local WordPress node: starts a throwaway server, registers
# the node, then backs up, lists, restores and checks the preview URL, plus the refusal paths
# (unknown backup, another site's backup, a damaged artifact, a failing pre-restore backup).
# Run as root after scripts/install-deps.sh; it provisions the node itself (--reset).
# Usage: scripts/smoke-backup-restore.sh [--keep]   (--keep leaves the data dir for inspection)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
KEEP=${1:-}
export PATH="${HOME:-/root}/.cargo/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
TARGET=${CARGO_TARGET_DIR:-target}
SERVER="$TARGET/debug/pressluft-server"
[ -x "$SERVER" ] || cargo build --bins
WORK=$(mktemp -d /tmp/pressluft-smoke.XXXXXX)
DATA="$WORK/data"
PORT=${SMOKE_PORT:-18090}
URL="http://127.0.0.1:$PORT"
EMAIL=smoke@example.test
PASSWORD="smoke-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
checks=0 failed=0
pass() { checks=$((checks + 1)); echo "  ok   $*"; }
fail() { checks=$((checks + 1)); failed=$((failed + 1)); echo "  FAIL $*"; }
expect() { # expect DESC ACTUAL WANTED
  if [ "$2" = "$3" ]; then pass "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi
}
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  if [ "$KEEP" = "--keep" ]; then echo "data kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The node is shared with the test suite: hold its lock for the whole run.
exec 9>/tmp/pressluft-test-node.lock
flock 9

echo "== start a server on $URL"
printf '%s\n' "$PASSWORD" | "$SERVER" admin create --email "$EMAIL" --data-dir "$DATA" >/dev/null
"$SERVER" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" --poll-ms 200 \
  --retry-backoff-ms 200,400,600 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/metrics" || true)" = 401 ] && break
  sleep 0.1
done
TOKEN=$(curl -fsS -D - -o /dev/null -H 'Content-Type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" "$URL/api/login" \
  | sed -n 's/^[Ss]et-[Cc]ookie: session_token=\([^;]*\).*/\1/p' | tr -d '\r')
[ -n "$TOKEN" ] || { echo "login failed"; cat "$WORK/server.log"; exit 1; }
api() { # api METHOD PATH [BODY] -> prints body, sets CODE
  local out
  out=$(curl -sS -w '\n%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' ${3:+-d "$3"} "$URL$2")
  CODE=${out##*$'\n'}
  BODY=${out%$'\n'*}
}
wait_job() { # wait_job ID -> sets JOB
  for _ in $(seq 1 600); do
    api GET "/api/jobs/$1"; JOB=$BODY
    case $(jq -r .status <<<"$JOB") in succeeded|failed|cancelled) return 0;; esac
    sleep 0.5
  done
  echo "job $1 did not finish"; return 1
}

echo "== provision and register the local node"
PRESSLUFT_URL=$URL PRESSLUFT_EMAIL=$EMAIL PRESSLUFT_PASSWORD=$PASSWORD bash scripts/local-node.sh --reset >"$WORK/node.log" 2>&1 \
  || { cat "$WORK/node.log"; exit 1; }
api GET /api/sites; DEMO=$(jq -r '.[] | select(.slug=="demo") | .id' <<<"$BODY"); OTHER=$(jq -r '.[] | select(.slug=="other") | .id' <<<"$BODY")
api GET "/api/sites/$DEMO/environments"
PROD=$(jq -r '.[] | select(.slug=="production") | .id' <<<"$BODY")
STAGING=$(jq -r '.[] | select(.slug=="staging") | .id' <<<"$BODY")
PREVIEW=$(jq -r '.[] | select(.slug=="production") | .preview_url' <<<"$BODY")
api GET "/api/sites/$OTHER/environments"; OTHER_PROD=$(jq -r '.[0].id' <<<"$BODY")

echo "== backup create and list"
api POST "/api/environments/$PROD/backups" '{"backup_scope":"full"}'; expect "backup accepted" "$CODE" 202
wait_job "$(jq -r .job_id <<<"$BODY")"; expect "backup job" "$(jq -r .status <<<"$JOB")" succeeded
api GET "/api/environments/$PROD/backups"; B1=$(jq -r '.[0].id' <<<"$BODY")
expect "backup completed" "$(jq -r '.[0].status' <<<"$BODY")" completed
ART=$(jq -r '.[0].storage_path' <<<"$BODY")
expect "recorded sha256 = stored object" "$(jq -r '.[0].checksum' <<<"$BODY")" "$(sha256sum "$ART" | cut -d' ' -f1)"
expect "recorded size = stored object" "$(jq -r '.[0].size_bytes' <<<"$BODY")" "$(stat -c %s "$ART")"
expect "artifact opens with zstd|tar" "$(zstd -dc "$ART" | tar -t | head -1)" manifest.json

echo "== restore refusals"
api POST "/api/environments/$PROD/restore" '{"backup_id":"00000000-0000-4000-8000-000000000000"}'
expect "unknown backup" "$CODE $(jq -r .code <<<"$BODY")" "404 backup_not_found"
api POST "/api/environments/$PROD/restore" '{"backup_id":"nope"}'; expect "malformed backup id" "$CODE" 400
api POST "/api/environments/$OTHER_PROD/backups" '{"backup_scope":"db"}'; wait_job "$(jq -r .job_id <<<"$BODY")"
api GET "/api/environments/$OTHER_PROD/backups"; OB=$(jq -r '.[0].id' <<<"$BODY")
api POST "/api/environments/$PROD/restore" "{\"backup_id\":\"$OB\"}"
expect "another site's backup" "$CODE $(jq -r .code <<<"$BODY")" "409 backup_wrong_site"

echo "== restore a full backup"
echo "<?php // smoke marker" >"$(jq -r '.files_root' <<<"$(api GET "/api/environments/$PROD"; echo "$BODY")")/current/smoke-marker.php"
api POST "/api/environments/$PROD/restore/preflight" "{\"backup_id\":\"$B1\"}"
expect "preflight ok" "$(jq -r .ok <<<"$BODY")" true
api POST "/api/environments/$PROD/restore" "{\"backup_id\":\"$B1\"}"; expect "restore accepted" "$CODE" 202
RJ=$(jq -r .job_id <<<"$BODY")
api GET "/api/environments/$PROD"; expect "environment restoring" "$(jq -r .status <<<"$BODY")" restoring
wait_job "$RJ"; expect "restore job" "$(jq -r .status <<<"$JOB")" succeeded
api GET "/api/environments/$PROD"; expect "environment active again" "$(jq -r .status <<<"$BODY")" active
FILES=$(jq -r .files_root <<<"$BODY")
[ ! -e "$FILES/current/smoke-marker.php" ] && pass "file added after the backup is gone" || fail "marker survived the restore"
expect "preview URL answers" "$(curl -s -o /dev/null -w '%{http_code}' "$PREVIEW")" 200
api GET "/api/environments/$PROD/backups"
expect "pre-restore checkpoint listed" "$(jq -r "[.[] | select(.checkpoint_for_job_id==\"$RJ\")] | length" <<<"$BODY")" 1

echo "== damaged artifact: refused, nothing touched"
api POST "/api/environments/$STAGING/backups" '{"backup_scope":"full"}'; wait_job "$(jq -r .job_id <<<"$BODY")"
api GET "/api/environments/$STAGING/backups"; B2=$(jq -r '.[0].id' <<<"$BODY"); ART2=$(jq -r '.[0].storage_path' <<<"$BODY")
cp "$ART2" "$WORK/good.tar.zst"
printf 'X' | dd of="$ART2" bs=1 seek=100 conv=notrunc 2>/dev/null
BEFORE=$(readlink "$FILES/current")
api POST "/api/environments/$PROD/restore" "{\"backup_id\":\"$B2\"}"; wait_job "$(jq -r .job_id <<<"$BODY")"
expect "damaged artifact fails" "$(jq -r '.status + " " + .error_code' <<<"$JOB")" "failed RESTORE_ARTIFACT_CHECKSUM_MISMATCH"
expect "files untouched" "$(readlink "$FILES/current")" "$BEFORE"
api GET "/api/environments/$PROD"; expect "environment active" "$(jq -r .status <<<"$BODY")" active
cp "$WORK/good.tar.zst" "$ART2"

echo "== failing pre-restore backup: refused, nothing touched"
PROD_DIR=$(dirname "$ART")
mv "$PROD_DIR" "$PROD_DIR.saved"; touch "$PROD_DIR"
api POST "/api/environments/$PROD/restore" "{\"backup_id\":\"$B2\"}"; wait_job "$(jq -r .job_id <<<"$BODY")"
expect "pre-restore backup failure" "$(jq -r '.status + " " + .error_code' <<<"$JOB")" "failed RESTORE_PRE_BACKUP_FAILED"
expect "files untouched" "$(readlink "$FILES/current")" "$BEFORE"
rm -f "$PROD_DIR"; mv "$PROD_DIR.saved" "$PROD_DIR"

echo "== staging into production (same site)"
api POST "/api/environments/$PROD/restore" "{\"backup_id\":\"$B2\"}"; wait_job "$(jq -r .job_id <<<"$BODY")"
expect "staging backup restored into production" "$(jq -r .status <<<"$JOB")" succeeded
expect "preview URL answers" "$(curl -s -o /dev/null -w '%{http_code}' "$PREVIEW")" 200

echo
echo "smoke: $((checks - failed)) passed, $failed failed"
[ "$failed" -eq 0 ] || { echo "server log: $WORK/server.log"; KEEP=--keep; exit 1; }
bash scripts/local-node.sh --reset >/dev/null 2>&1 || true
