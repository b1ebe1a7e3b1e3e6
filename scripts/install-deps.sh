#!/usr/bin/env bash
# Install (idempotently) everything a Pressluft control plane + local WordPress node needs
# on Debian 12, and optionally start the daemons. Run as root.
set -Eeuo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
export PL_PROG=install-deps
# shellcheck source=scripts/lib/common.sh
. "$SCRIPT_DIR/lib/common.sh"
# shellcheck source=scripts/lib/services.sh
. "$SCRIPT_DIR/lib/services.sh"
pl_install_err_trap

VENV=/opt/pressluft/venv
REQUIREMENTS="$REPO_ROOT/ansible/requirements.txt"
VENV_LINKS=(ansible ansible-playbook)

# Installed before wordpress so that its "apache2 | httpd" and "libapache2-mod-php | php"
# dependencies are satisfied by nginx and php-fpm instead of pulling in Apache.
BASE_PACKAGES=(
  mariadb-server mariadb-client nginx php-fpm php-mysql php-cli zstd tar tmux
  python3 python3-venv openssh-server openssh-client curl jq procps ca-certificates
)
# wordpress-theme-twentytwentythree is only a Recommends of wordpress, but it is the
# default theme of WordPress 6.1 and the demo sites use it.
WP_PACKAGES=(php wordpress wordpress-theme-twentytwentythree)

usage() {
  cat <<USAGE
Usage: scripts/install-deps.sh [--start-services | --services-only | --skip-python] [--help]

Installs, as root and idempotently (fast when everything is present):
  * Debian packages: ${BASE_PACKAGES[*]} ${WP_PACKAGES[*]}
    (apt-get update only when something is missing; --no-install-recommends; Apache is
    kept out: nginx + php-fpm are installed first and daemons are not started by apt)
  * a Python venv at $VENV (Debian's /usr/bin/python3) with ansible/requirements.txt
    (pip runs only when a pinned version is missing), and symlinks
    /usr/local/bin/{${VENV_LINKS[*]// /,}} into it.

Options:
  --start-services  also make sure MariaDB, php-fpm and nginx are running and answering
                    (cleans stale pid files/sockets left by killed daemons, waits up to
                    ${PL_START_TIMEOUT}s each, fails with the log tail otherwise)
  --services-only   only do the --start-services part
  --skip-python     skip the Python venv
  -h, --help        this text
USAGE
}

START_SERVICES=0 INSTALL=1 PYTHON=1
while [ $# -gt 0 ]; do
  case "$1" in
    --start-services) START_SERVICES=1 ;;
    --services-only) START_SERVICES=1 INSTALL=0 PYTHON=0 ;;
    --skip-python) PYTHON=0 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; pl_die "unknown option: $1" ;;
  esac
  shift
done

pl_require_root

pkg_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

missing_of() {
  local p
  for p in "$@"; do pkg_installed "$p" || echo "$p"; done
}

APT_UPDATED=0
POLICY_CREATED=0
cleanup_policy() {
  if [ "$POLICY_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; POLICY_CREATED=0; fi
}
trap cleanup_policy EXIT

apt_install() {
  local -a pkgs=("$@") extra=()
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" = 0 ]; then
    pl_step "apt-get update"
    apt-get update -qq </dev/null >/dev/null
    APT_UPDATED=1
    pl_log "apt: updated package lists"
  fi
  # Daemons are started by --start-services, never by package maintainer scripts.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    POLICY_CREATED=1
  fi
  # Forbid Apache when it is not there already (never remove an existing one).
  pkg_installed apache2 || extra+=(apache2- libapache2-mod-php- "libapache2-mod-php$(php_ver_guess)-")
  pl_step "apt-get install ${pkgs[*]}"
  apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold "${pkgs[@]}" "${extra[@]}" </dev/null >/tmp/pressluft-apt.log 2>&1 ||
    { tail -n 40 /tmp/pressluft-apt.log >&2; pl_die "apt-get install failed (full log: /tmp/pressluft-apt.log)"; }
  pl_log "apt: installed ${pkgs[*]}"
}

php_ver_guess() {
  local bin
  for bin in /usr/sbin/php-fpm[0-9]*; do [ -x "$bin" ] && { echo "${bin#/usr/sbin/php-fpm}"; return; }; done
  echo 8.2
}

install_packages() {
  pl_step "check Debian packages"
  local -a miss
  mapfile -t miss < <(missing_of "${BASE_PACKAGES[@]}")
  if [ "${#miss[@]}" -gt 0 ]; then apt_install "${miss[@]}"; fi
  mapfile -t miss < <(missing_of "${WP_PACKAGES[@]}")
  if [ "${#miss[@]}" -gt 0 ]; then apt_install "${miss[@]}"; fi
  if [ "$APT_UPDATED" = 0 ]; then
    pl_log "apt: all $((${#BASE_PACKAGES[@]} + ${#WP_PACKAGES[@]})) packages present"
  fi
  if pkg_installed apache2 && pgrep -x apache2 >/dev/null; then
    pl_warn "apache2 is installed and running; Pressluft uses nginx (loopback ports only), so it does not conflict"
  fi
}

# Exit 0 when every pinned "name==version" in the requirements file is installed in the venv.
venv_satisfied() {
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - "$REQUIREMENTS" <<'PY' >/dev/null 2>&1
import re, sys
from importlib.metadata import version, PackageNotFoundError
ok = True
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    m = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;]+)$", line)
    if not line:
        continue
    if not m:
        ok = False  # unpinned line: let pip decide
        continue
    try:
        if version(m.group(1)) != m.group(3):
            ok = False
    except PackageNotFoundError:
        ok = False
sys.exit(0 if ok else 1)
PY
}

install_python() {
  pl_step "python venv $VENV"
  [ -f "$REQUIREMENTS" ] || pl_die "missing $REQUIREMENTS"
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    /usr/bin/python3 -m venv "$VENV"
    pl_log "python: created venv $VENV ($(/usr/bin/python3 --version 2>&1))"
  fi
  if venv_satisfied; then
    pl_log "python: requirements already satisfied ($(grep -E '^[A-Za-z]' "$REQUIREMENTS" | paste -sd' '))"
  else
    pl_step "pip install -r ansible/requirements.txt"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" \
      </dev/null >/tmp/pressluft-pip.log 2>&1 ||
      { tail -n 40 /tmp/pressluft-pip.log >&2; pl_die "pip install failed (full log: /tmp/pressluft-pip.log)"; }
    venv_satisfied || pl_die "pip finished but the pinned versions in $REQUIREMENTS are still not installed"
    pl_log "python: installed $(grep -E '^[A-Za-z]' "$REQUIREMENTS" | paste -sd' ')"
  fi
  local l
  for l in "${VENV_LINKS[@]}"; do
    [ -x "$VENV/bin/$l" ] || pl_die "$VENV/bin/$l missing after pip install"
    if [ "$(readlink "/usr/local/bin/$l" 2>/dev/null || true)" != "$VENV/bin/$l" ]; then
      ln -sfn "$VENV/bin/$l" "/usr/local/bin/$l"
      pl_log "python: linked /usr/local/bin/$l -> $VENV/bin/$l"
    fi
  done
}

if [ "$INSTALL" = 1 ]; then install_packages; fi
if [ "$PYTHON" = 1 ]; then install_python; fi
if [ "$START_SERVICES" = 1 ]; then pl_ensure_services; fi
pl_step "done"
pl_log "done"
