# shellcheck shell=bash
# Shared helpers for Pressluft's bash scripts (sourced, not executed).
#
# Provides: pl_log / pl_warn / pl_die, step tracking with an ERR trap that names the
# failing step, a sane PATH for env-stripped runs (CI runs `env -i PATH=... HOME=...`),
# and pl_require_root.

# System directories first: the interactive PATH on dev machines may put a pyenv shim
# first, and CI may hand us a minimal PATH without the sbin directories.
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
export LC_ALL=C.UTF-8 LANG=C.UTF-8
: "${HOME:=/root}"
export HOME

PL_PROG="${PL_PROG:-$(basename "$0" .sh)}"
PL_STEP="start"

pl_log()  { printf '[%s] %s\n' "$PL_PROG" "$*"; }
pl_warn() { printf '[%s] WARNING: %s\n' "$PL_PROG" "$*" >&2; }
pl_die()  { printf '[%s] ERROR: %s\n' "$PL_PROG" "$*" >&2; exit 1; }

# pl_step NAME — remember what we are doing, for the ERR trap.
pl_step() { PL_STEP="$*"; }

pl__on_err() {
  local rc=$1 line=$2 cmd=$3
  printf '[%s] FAILED during step "%s" (exit %s at line %s: %s)\n' \
    "$PL_PROG" "$PL_STEP" "$rc" "$line" "$cmd" >&2
}

pl_install_err_trap() {
  set -Eeuo pipefail
  trap 'pl__on_err $? $LINENO "$BASH_COMMAND"' ERR
}

pl_require_root() {
  [ "$(id -u)" -eq 0 ] || pl_die "must run as root (try: sudo $0)"
}

# pl_write_if_changed PATH MODE  (content on stdin) -> returns 0 if the file changed, 1 if not.
pl_write_if_changed() {
  local path=$1 mode=$2 tmp
  tmp=$(mktemp "${path}.tmp.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    return 1
  fi
  mv -f "$tmp" "$path"
  return 0
}
