# shellcheck shell=bash
# Start/verify the local daemons a Pressluft node needs: MariaDB, php-fpm, nginx.
# Sourced after lib/common.sh. Works without systemd, without stdin and with a stripped
# environment; survives stale pid files/sockets left by SIGKILLed daemons.
#
#   pl_ensure_mariadb | pl_ensure_php_fpm | pl_ensure_nginx | pl_ensure_services
#   pl_reload_php_fpm  (config test + graceful reload, or start)
#   pl_reload_nginx    (config test + reload, or start)

PL_START_TIMEOUT="${PL_START_TIMEOUT:-30}"
# Daemons are started with fd 9 closed: scripts hold their flock(1) lock on fd 9, and a
# daemon inheriting it would keep the lock forever.
PL_MARIADB_LOG=/var/log/mysql/error.log
PL_NGINX_PID=/run/nginx.pid

pl_php_version() {
  local bin
  for bin in /usr/sbin/php-fpm[0-9]*; do
    [ -x "$bin" ] && { echo "${bin#/usr/sbin/php-fpm}"; return 0; }
  done
  pl_die "php-fpm is not installed (run scripts/install-deps.sh)"
}

# True when PID exists and is not a zombie. (In containers without a reaping init, a
# SIGKILLed daemon stays <defunct> with its name in /proc -- that is not "running".)
pl__alive() {
  local st
  st=$(sed -n 's/^.*) \([A-Za-z]\).*$/\1/p' "/proc/$1/stat" 2>/dev/null || true)
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# Live (non-zombie) pids of processes whose command name is exactly NAME.
pl__live_pids() {
  local pid
  for pid in $(pgrep -x "$1" || true); do
    if pl__alive "$pid"; then echo "$pid"; fi
  done
}

# pid of a live process whose command name is NAME, read from PIDFILE; empty otherwise.
pl__pid_from_file() {
  local file=$1 name=$2 pid comm
  [ -s "$file" ] || return 0
  pid=$(tr -dc '0-9' <"$file")
  [ -n "$pid" ] || return 0
  comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
  if [ "$comm" = "$name" ] && pl__alive "$pid"; then echo "$pid"; fi
  return 0
}

# Kill (SIGKILL, by pid) live processes named NAME that are left over from a dead master.
pl__kill_orphans() {
  local pid
  for pid in $(pl__live_pids "$1"); do
    kill -9 "$pid" 2>/dev/null || true
  done
}

pl__log_tail() {
  local file=$1
  if [ -f "$file" ]; then
    printf -- '----- last lines of %s -----\n' "$file" >&2
    tail -n 40 "$file" >&2 || true
    printf -- '-----\n' >&2
  else
    printf '(no log file at %s)\n' "$file" >&2
  fi
}

# ---------------------------------------------------------------- MariaDB
pl_mariadb_alive() { mariadb-admin --connect-timeout=2 ping >/dev/null 2>&1 </dev/null; }

pl__wait_mariadb() {
  local i
  for ((i = 0; i < PL_START_TIMEOUT * 4; i++)); do
    pl_mariadb_alive && return 0
    sleep 0.25
  done
  return 1
}

pl_ensure_mariadb() {
  pl_step "start MariaDB"
  if pl_mariadb_alive; then
    pl_log "mariadb: running"
    return 0
  fi
  if [ -n "$(pl__live_pids mariadbd)$(pl__live_pids mysqld_safe)" ]; then
    # mysqld_safe restarts a killed server by itself; crash recovery takes a moment.
    pl_log "mariadb: process present but not answering yet, waiting up to ${PL_START_TIMEOUT}s"
    if pl__wait_mariadb; then
      pl_log "mariadb: running (recovered)"
      return 0
    fi
    pl__log_tail "$PL_MARIADB_LOG"
    pl_die "mariadb: a mariadbd/mysqld_safe process exists but does not answer 'mariadb-admin ping' after ${PL_START_TIMEOUT}s"
  fi
  # Nothing running: whatever is in /run/mysqld is stale.
  rm -f /run/mysqld/mysqld.pid /run/mysqld/mysqld.sock /run/mysqld/mysqld.sock.lock
  install -d -o mysql -g mysql -m 0755 /run/mysqld
  install -d -o mysql -g adm -m 2750 /var/log/mysql
  if [ ! -d /var/lib/mysql/mysql ]; then
    pl_log "mariadb: initialising the data directory"
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/var/log/mysql/install-db.log 2>&1 </dev/null ||
      { pl__log_tail /var/log/mysql/install-db.log; pl_die "mariadb: mariadb-install-db failed"; }
  fi
  (cd / && exec setsid mysqld_safe --skip-syslog --log-error="$PL_MARIADB_LOG") </dev/null >/dev/null 2>&1 9>&- &
  if pl__wait_mariadb; then
    pl_log "mariadb: started (mysqld_safe, log $PL_MARIADB_LOG)"
    return 0
  fi
  pl__log_tail "$PL_MARIADB_LOG"
  pl_die "mariadb: did not answer 'mariadb-admin ping' within ${PL_START_TIMEOUT}s of starting"
}

# ---------------------------------------------------------------- php-fpm
pl__fpm_conf()    { echo "/etc/php/$(pl_php_version)/fpm/php-fpm.conf"; }
pl__fpm_bin()     { echo "/usr/sbin/php-fpm$(pl_php_version)"; }
pl__fpm_pidfile() { echo "/run/php/php$(pl_php_version)-fpm.pid"; }
pl__fpm_log()     { echo "/var/log/php$(pl_php_version)-fpm.log"; }

# Unix socket paths of all configured pools.
pl__fpm_sockets() {
  local v; v=$(pl_php_version)
  sed -n 's/^[[:space:]]*listen[[:space:]]*=[[:space:]]*\(\/[^[:space:];]*\).*$/\1/p' \
    /etc/php/"$v"/fpm/pool.d/*.conf 2>/dev/null || true
}

pl__socket_answers() {
  # shellcheck disable=SC2016 # PHP code, not shell
  php -n -r '$s = @stream_socket_client("unix://" . $argv[1], $en, $es, 2); exit($s ? 0 : 1);' "$1" \
    </dev/null >/dev/null 2>&1
}

pl__fpm_all_sockets_answer() {
  local s
  for s in $(pl__fpm_sockets); do
    pl__socket_answers "$s" || return 1
  done
  return 0
}

pl__fpm_master_pid() { pl__pid_from_file "$(pl__fpm_pidfile)" "php-fpm$(pl_php_version)"; }

pl__fpm_configtest() {
  local out
  if ! out=$("$(pl__fpm_bin)" -t --fpm-config "$(pl__fpm_conf)" 2>&1 </dev/null); then
    printf '%s\n' "$out" >&2
    pl_die "php-fpm: configuration test failed"
  fi
}

pl__wait_fpm() {
  local i
  for ((i = 0; i < PL_START_TIMEOUT * 4; i++)); do
    if [ -n "$(pl__fpm_master_pid)" ] && pl__fpm_all_sockets_answer; then return 0; fi
    sleep 0.25
  done
  return 1
}

pl__start_fpm() {
  local s
  pl__kill_orphans "php-fpm$(pl_php_version)"
  rm -f "$(pl__fpm_pidfile)"
  for s in $(pl__fpm_sockets); do rm -f "$s"; done
  install -d -o www-data -g www-data -m 0755 /run/php
  pl__fpm_configtest
  "$(pl__fpm_bin)" --daemonize --fpm-config "$(pl__fpm_conf)" </dev/null >/dev/null 2>&1 9>&- ||
    { pl__log_tail "$(pl__fpm_log)"; pl_die "php-fpm: failed to start"; }
  if ! pl__wait_fpm; then
    pl__log_tail "$(pl__fpm_log)"
    pl_die "php-fpm: master or pool sockets not answering within ${PL_START_TIMEOUT}s ($(pl__fpm_sockets | tr '\n' ' '))"
  fi
}

pl_ensure_php_fpm() {
  pl_step "start php-fpm"
  local pid
  pid=$(pl__fpm_master_pid)
  if [ -n "$pid" ] && pl__fpm_all_sockets_answer; then
    pl_log "php-fpm: running (pid $pid)"
    return 0
  fi
  if [ -n "$pid" ]; then
    pl_log "php-fpm: master $pid alive but a pool socket does not answer, reloading"
    pl_reload_php_fpm
    return 0
  fi
  pl__start_fpm
  pl_log "php-fpm: started"
}

pl_reload_php_fpm() {
  pl_step "reload php-fpm"
  local pid i
  pl__fpm_configtest
  pid=$(pl__fpm_master_pid)
  if [ -z "$pid" ]; then
    pl__start_fpm
    pl_log "php-fpm: started"
    return 0
  fi
  kill -USR2 "$pid"
  # USR2 re-executes the master (same pid); give it a moment, then wait for every socket.
  for ((i = 0; i < 20; i++)); do sleep 0.1; [ -n "$(pl__fpm_master_pid)" ] && break; done
  if ! pl__wait_fpm; then
    pl__log_tail "$(pl__fpm_log)"
    pl_die "php-fpm: pool sockets not answering within ${PL_START_TIMEOUT}s after reload"
  fi
  pl_log "php-fpm: reloaded"
}

# ---------------------------------------------------------------- nginx
pl__nginx_pid() { pl__pid_from_file "$PL_NGINX_PID" nginx; }

pl__nginx_configtest() {
  local out
  if ! out=$(nginx -t 2>&1 </dev/null); then
    printf '%s\n' "$out" >&2
    pl_die "nginx: configuration test (nginx -t) failed"
  fi
}

pl__start_nginx() {
  local i
  pl__kill_orphans nginx
  rm -f "$PL_NGINX_PID"
  pl__nginx_configtest
  nginx </dev/null >/dev/null 2>&1 9>&- || { pl__log_tail /var/log/nginx/error.log; pl_die "nginx: failed to start"; }
  for ((i = 0; i < PL_START_TIMEOUT * 4; i++)); do
    [ -n "$(pl__nginx_pid)" ] && return 0
    sleep 0.25
  done
  pl__log_tail /var/log/nginx/error.log
  pl_die "nginx: no live master process within ${PL_START_TIMEOUT}s"
}

# Debian's default site listens on :80 (and [::]:80, which fails without IPv6); a
# Pressluft node serves its environments on loopback ports only.
pl__disable_nginx_default_site() {
  if [ -e /etc/nginx/sites-enabled/default ] || [ -L /etc/nginx/sites-enabled/default ]; then
    rm -f /etc/nginx/sites-enabled/default
    pl_log "nginx: disabled Debian's default site (port 80)"
  fi
}

pl_ensure_nginx() {
  pl_step "start nginx"
  local pid
  pl__disable_nginx_default_site
  pid=$(pl__nginx_pid)
  if [ -n "$pid" ]; then
    pl_log "nginx: running (pid $pid)"
    return 0
  fi
  pl__start_nginx
  pl_log "nginx: started"
}

pl_reload_nginx() {
  pl_step "reload nginx"
  local pid
  pl__nginx_configtest
  pid=$(pl__nginx_pid)
  if [ -z "$pid" ]; then
    pl__start_nginx
    pl_log "nginx: started"
    return 0
  fi
  nginx -s reload </dev/null >/dev/null 2>&1 || { pl__log_tail /var/log/nginx/error.log; pl_die "nginx: reload failed"; }
  pl_log "nginx: reloaded"
}

pl_ensure_services() {
  pl_ensure_mariadb
  pl_ensure_php_fpm
  pl_ensure_nginx
}
