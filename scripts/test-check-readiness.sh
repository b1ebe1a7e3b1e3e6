#!/usr/bin/env bash
# Proves scripts/check-readiness.sh catches drift: it must pass on this tree and fail on copies
# with a deliberately added undocumented route, API error code, job error code, a missing
# playbook, a missing job-type row, and a broken playbook.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
CHECK="$REPO/scripts/check-readiness.sh"
WORK=$(mktemp -d /tmp/pressluft-readiness.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
passed=0 failed=0
copy() { rm -rf "$WORK/r"; mkdir -p "$WORK/r"; (cd "$REPO" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$WORK/r"); }
must_fail() { # must_fail DESC WANTED_MESSAGE
  local out
  if out=$(bash "$CHECK" "$WORK/r" 2>&1); then
    echo "  FAIL readiness passed despite: $1"; failed=$((failed + 1))
  elif grep -q "$2" <<<"$out"; then
    echo "  ok   fails on $1"; passed=$((passed + 1))
  else
    echo "  FAIL readiness failed on $1 but without '$2':"; echo "$out"; failed=$((failed + 1))
  fi
}

if bash "$CHECK" "$REPO" >/dev/null; then echo "  ok   passes on this tree"; passed=$((passed + 1)); else echo "  FAIL readiness fails on this tree"; failed=$((failed + 1)); fi

copy; sed -i 's|    ("GET", "/api/metrics"),|    ("GET", "/api/metrics"),\n    ("GET", "/api/undocumented"),|' "$WORK/r/backend/src/router.rs"
must_fail "an undocumented route in ROUTES" "GET /api/undocumented is served but missing"

copy; sed -i 's|        .route("/api/metrics"|        .route("/api/secret", get(registry::handlers::metrics))\n        .route("/api/metrics"|' "$WORK/r/backend/src/router.rs"
must_fail "a wired route missing from ROUTES" "GET /api/secret is wired"

copy; sed -i 's|    "bad_request",|    "bad_request",\n    "brand_new_code",|' "$WORK/r/backend/src/error.rs"
must_fail "an undocumented API error code" "brand_new_code is not documented"

copy; echo '# RESTORE_UNDOCUMENTED_THING' >>"$WORK/r/ansible/playbooks/env-restore.yml"
must_fail "an undocumented job error code" "RESTORE_UNDOCUMENTED_THING is not documented"

copy; rm "$WORK/r/ansible/playbooks/backup-create.yml"
must_fail "a job type without its playbook" "backup_create has no playbook"

copy; sed -i 's/`env_restore`/env-restore/g' "$WORK/r/docs/job-types.md"
must_fail "a job type without a docs row" "env_restore has no row"

copy; printf -- '- hosts: all\n  tasks:\n    - name: broken\n      ansible.builtin.debug: [\n' >"$WORK/r/ansible/playbooks/node-check.yml"
must_fail "a playbook with a syntax error" "fails --syntax-check"

echo "readiness drift test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
