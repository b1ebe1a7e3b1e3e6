#!/usr/bin/env bash
# The main job: installs what is missing, builds Pressluft (release), starts the server with the
# embedded defaults (SQLite + local backup store under /var/lib/pressluft), creates the admin,
# provisions the real local WordPress node, and opens the TUI on the demo site's detail view.
# Safe and fast to re-run: it reuses a running server, the admin and the node.
# Usage (as root): bash scripts/demo.sh [--no-tui]
# Environment: PRESSLUFT_DATA_DIR (default /var/lib/pressluft), PRESSLUFT_LISTEN (127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "run as root: it installs packages and provisions a WordPress node" >&2; exit 1; }
export HOME="${HOME:-/root}"
export PATH="$HOME/.cargo/bin:/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
DATA=${PRESSLUFT_DATA_DIR:-/var/lib/pressluft}
LISTEN=${PRESSLUFT_LISTEN:-127.0.0.1:8080}
URL="http://$LISTEN"
EMAIL=${PRESSLUFT_EMAIL:-admin@localhost}
PWFILE="$DATA/admin-password"
LOG=/var/log/pressluft-server.log
BIN="$REPO/target/release"
say() { echo "==> $*"; }

say "checking packages, Ansible and services"
bash scripts/install-deps.sh --start-services

say "building Pressluft (release; the first build takes a few minutes)"
cargo build --release --bins --quiet

mkdir -p "$DATA"; chmod 700 "$DATA"
if [ ! -s "$PWFILE" ]; then
  say "creating the admin $EMAIL"
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$PWFILE")
  "$BIN/pressluft-server" admin create --email "$EMAIL" --data-dir "$DATA" <"$PWFILE"
fi
echo "    admin: $EMAIL, password stored in $PWFILE (mode 0600)"

if curl -fsS -o /dev/null "$URL/api/metrics" 2>/dev/null || [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/metrics")" = 401 ]; then
  say "server already running on $URL"
else
  say "starting the server on $URL (log: $LOG)"
  PRESSLUFT_HOME="$REPO" nohup "$BIN/pressluft-server" serve --listen "$LISTEN" --data-dir "$DATA" \
    >>"$LOG" 2>&1 </dev/null &
  echo $! >"$DATA/server.pid"
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/metrics")" = 401 ] && break
    sleep 0.2
  done
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/metrics")" = 401 ] \
    || { echo "the server did not start; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
fi

say "provisioning the local WordPress node and registering it"
PRESSLUFT_URL=$URL PRESSLUFT_EMAIL=$EMAIL PRESSLUFT_PASSWORD=$(cat "$PWFILE") bash scripts/local-node.sh

if [ "${1:-}" = "--no-tui" ]; then
  say "ready: $URL (TUI: PRESSLUFT_EMAIL=$EMAIL PRESSLUFT_PASSWORD=\$(cat $PWFILE) $BIN/pressluft --site demo)"
  exit 0
fi
say "opening the TUI on the demo site (q quits; the server keeps running)"
PRESSLUFT_URL=$URL PRESSLUFT_EMAIL=$EMAIL PRESSLUFT_PASSWORD=$(cat "$PWFILE") exec "$BIN/pressluft" --site demo
