#!/usr/bin/env bash
# Scripted run of the terminal UI in tmux against a real server and the real local WordPress node:
# starts a throwaway server, registers the node (local-node.sh --reset), starts
# `pressluft --url URL --site demo` in a detached 100x30 tmux session, presses b, Enter (full
# backup), waits for it, then r, types production, Enter, and waits for the restore's success
# line. Prints the final screen; exits non-zero with the screen on a failure or timeout.
# Run as root after scripts/install-deps.sh --start-services. Holds the node lock
# /tmp/pressluft-test-node.lock (as the node tests do). Env: TUI_SMOKE_PORT (default 18091),
# CARGO_TARGET_DIR. Usage: scripts/tui-tmux-smoke.sh [--keep]   (--keep leaves the temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "" | --keep) ;;
  *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
esac
KEEP=${1:-}
export PATH="${HOME:-/root}/.cargo/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
# CI runs without a terminal; tmux needs a TERM to describe the outer one.
export TERM=xterm-256color
for tool in tmux curl flock; do
  command -v "$tool" >/dev/null || { echo "tui-tmux-smoke: $tool is not installed" >&2; exit 1; }
done
TARGET=${CARGO_TARGET_DIR:-target}
SERVER="$TARGET/debug/pressluft-server"
TUI="$TARGET/debug/pressluft"
if [ ! -x "$SERVER" ] || [ ! -x "$TUI" ] || [ ! -x "$TARGET/debug/pressluft-artifact" ]; then
  cargo build --workspace --bins
fi
SERVER=$(realpath "$SERVER") TUI=$(realpath "$TUI")
PORT=${TUI_SMOKE_PORT:-18091}
URL="http://127.0.0.1:$PORT"
PREVIEW="http://127.0.0.1:18181/"
EMAIL=tui-smoke@example.test
PASSWORD="tui-smoke-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
WORK=$(mktemp -d /tmp/pressluft-tui-smoke.XXXXXX)
# A private tmux server on a socket in our temp dir: never touches anyone else's sessions.
T=(tmux -S "$WORK/tmux.sock")
SESSION=pressluft

cleanup() {
  local rc=$?
  "${T[@]}" kill-server 2>/dev/null || true
  rm -f "$WORK/tmux.sock"
  if [ -n "${SERVER_PID:-}" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ "$KEEP" = "--keep" ] || [ "$rc" -ne 0 ]; then echo "files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

capture() { "${T[@]}" capture-pane -p -t "$SESSION" 2>/dev/null || echo "(no tmux pane)"; }
die() { # die MESSAGE: the screen, the server log tail, exit 1
  echo "tui-tmux-smoke: FAIL: $*"
  echo "---- screen ----"; capture
  echo "---- server log (tail) ----"; tail -n 30 "$WORK/server.log" 2>/dev/null || true
  exit 1
}
# wait_for TEXT SECONDS: polls the screen until it shows TEXT; fails early on an error outcome.
wait_for() {
  local deadline=$((SECONDS + $2)) screen
  while :; do
    screen=$(capture)
    grep -qF -- "$1" <<<"$screen" && return 0
    grep -qE 'Backup failed:|Restore failed:|failed: [a-z_]+:|\[pressluft exited' <<<"$screen" \
      && die "error on screen while waiting for '$1'"
    [ "$SECONDS" -ge "$deadline" ] && die "timed out after $2 s waiting for '$1'"
    sleep 0.5
  done
}
keys() { "${T[@]}" send-keys -t "$SESSION" "$@"; }

echo "== wait for the node lock"
exec 9>/tmp/pressluft-test-node.lock
flock 9

echo "== start a server on $URL"
printf '%s\n' "$PASSWORD" | "$SERVER" admin create --email "$EMAIL" --data-dir "$WORK/data" \
  >"$WORK/admin.log" 2>&1 || { cat "$WORK/admin.log"; die "admin create failed"; }
NO_COLOR=1 PRESSLUFT_ANSIBLE_DIR="$PWD/ansible" "$SERVER" serve --listen "127.0.0.1:$PORT" \
  --data-dir "$WORK/data" --poll-ms 200 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/metrics" || true)" = 401 ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited (port $PORT taken?)"
  sleep 0.1
done

echo "== reset and register the local node"
PRESSLUFT_URL=$URL PRESSLUFT_EMAIL=$EMAIL PRESSLUFT_PASSWORD=$PASSWORD \
  bash scripts/local-node.sh --reset >"$WORK/node.log" 2>&1 \
  || { cat "$WORK/node.log"; die "local-node.sh --reset failed"; }

echo "== start pressluft --url $URL --site demo in tmux (100x30)"
# The credentials reach the pane through the (private) tmux server's environment, not argv.
PRESSLUFT_EMAIL=$EMAIL PRESSLUFT_PASSWORD=$PASSWORD "${T[@]}" new-session -d -s "$SESSION" \
  -x 100 -y 30 "'$TUI' --url '$URL' --site demo; echo \"[pressluft exited: \$?]\"; sleep 600"
size=$("${T[@]}" display-message -p -t "$SESSION" '#{window_width}x#{window_height}')
[ "$size" = 100x30 ] || die "tmux window is $size, not 100x30"
wait_for "No backups yet" 30

echo "== b, Enter: a full backup"
keys b
wait_for "Create backup" 10
keys Enter
wait_for "Backup succeeded:" 120
wait_for "completed" 30   # the backups list reloaded with the new backup

echo "== r, type production, Enter: restore it"
keys r
wait_for "Type production to confirm" 60
keys -l production
keys Enter
wait_for "Restore succeeded: Production is live at $PREVIEW" 300

echo "== final screen"
capture
code=$(curl -s -o /dev/null -w '%{http_code}' "$PREVIEW" || true)
[ "$code" = 200 ] || die "preview URL $PREVIEW answered $code"
echo "tui-tmux-smoke: ok (preview URL answers 200)"
