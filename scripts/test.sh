#!/usr/bin/env bash
# Installs what the tests need (packages, Ansible, services, the local WordPress node), then runs
# every check and test: fmt, clippy, playbook syntax, the readiness check, the workspace tests and
# the end-to-end smoke run. Run as root on Debian 12. Exits non-zero on the first failure.
set -euo pipefail
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
  echo "Environment: CARGO_TARGET_DIR (default /var/tmp/pressluft-target), NEXTEST_ARGS (extra nextest args)."
  exit 0
fi
export HOME="${HOME:-/root}"
export PATH="$HOME/.cargo/bin:/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/pressluft-target}"
export CARGO_TERM_COLOR=never
cd "$(dirname "$0")/.."
start=$(date +%s)
stage() { echo; echo "=== [$(( $(date +%s) - start ))s] $*"; }

stage "install dependencies and start services"
bash scripts/install-deps.sh --start-services

stage "cargo fmt --check"
cargo fmt --all -- --check

stage "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

stage "ansible-playbook --syntax-check"
for pb in ansible/playbooks/*.yml; do
  ANSIBLE_CONFIG=ansible/ansible.cfg ansible-playbook --syntax-check -i localhost, "$pb"
done

stage "readiness check (and proof that it catches drift)"
bash scripts/check-readiness.sh
bash scripts/test-check-readiness.sh

stage "build"
cargo build --workspace --bins

stage "provision the local WordPress node"
bash scripts/local-node.sh

stage "tests"
# shellcheck disable=SC2086
cargo nextest run --workspace --no-fail-fast ${NEXTEST_ARGS:-}

stage "smoke: backup and restore against the real node"
bash scripts/smoke-backup-restore.sh

stage "smoke: the TUI in tmux against the real server"
bash scripts/tui-tmux-smoke.sh

stage "all checks passed in $(( $(date +%s) - start ))s"
