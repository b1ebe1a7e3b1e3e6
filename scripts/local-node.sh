#!/usr/bin/env bash
# Provision a real local WordPress node on this machine (layout: docs/design-notes.md).
# Run as root. Idempotent; a re-run only converges what is missing.
set -Eeuo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PL_PROG=local-node
# shellcheck source=scripts/lib/common.sh
. "$SCRIPT_DIR/lib/common.sh"
# shellcheck source=scripts/lib/services.sh
. "$SCRIPT_DIR/lib/services.sh"
pl_install_err_trap

STATE_DIR=/var/lib/pressluft-node
STATE_FILE=$STATE_DIR/state.json
SECRETS_DIR=$STATE_DIR/secrets
BASELINE_DIR=$STATE_DIR/baseline
LOG_ROOT=/var/log/pressluft-node
SITES_ROOT=${PRESSLUFT_SITES_ROOT:-/srv/pressluft/sites}
SITES_ROOT=${SITES_ROOT%/}
WP_SRC=/usr/share/wordpress
WP_SRC_CONTENT=(/usr/share/wordpress/wp-content /var/lib/wordpress/wp-content)
UPLOAD_SUBDIR=2026/11

# site_slug|site_name|env_slug|env_name|env_type|port
ENV_SPECS=(
  "demo|Demo Site|production|Production|production|18181"
  "demo|Demo Site|staging|Staging|staging|18182"
  "other|Other Site|production|Production|production|18183"
)

usage() {
  cat <<USAGE
Usage: scripts/local-node.sh [--reset] [--only SITE/ENV] | --print | --teardown | --help

Provisions (as root, idempotently) a local WordPress node per docs/design-notes.md:
  sites demo ("Demo Site": production :18181, staging :18182) and other ("Other Site":
  production :18183). Each environment gets its own system user pl-<site>-<env>, files under
  \$PRESSLUFT_SITES_ROOT (default /srv/pressluft/sites)/<site_id>/<env_id>/{releases,current,shared},
  MariaDB database + user pl_<site>_<env>, php-fpm pool and nginx server block on
  127.0.0.1:<port>, and a completed WordPress install with 3 posts and 2 uploads.
  Stable ids live in $STATE_FILE; a pristine baseline (DB dump + files tarball)
  of every environment is kept under $BASELINE_DIR.

Options:
  (none)           provision / converge; also starts MariaDB, php-fpm and nginx if needed
  --reset          additionally put every environment back to its baseline (fresh files from
                   the baseline tarball, database dropped and re-imported); a few seconds
  --only SITE/ENV  with --reset or a plain run: only touch that environment (e.g. demo/staging)
  --print          print the node state as JSON (ids, ports, preview URLs, paths, db names)
  --teardown       remove everything this script created (users, files, databases, pools,
                   server blocks, credentials, baselines, and the state file with the ids)
  --keep-ids       with --teardown: keep $STATE_FILE, so that a later run re-creates
                   the environments with the same ids (as registered in the control plane)
  -h, --help       this text

Registration: when PRESSLUFT_URL is set (e.g. http://127.0.0.1:8080) the node, the sites and
the environments are registered into the control plane with their stable ids, logging in with
PRESSLUFT_EMAIL / PRESSLUFT_PASSWORD (idempotent: 201 created / 200 already registered).
USAGE
}

MODE=provision RESET=0 ONLY="" KEEP_IDS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --reset) RESET=1 ;;
    --only) [ $# -ge 2 ] || pl_die "--only needs SITE/ENV"; ONLY=$2; shift ;;
    --only=*) ONLY=${1#--only=} ;;
    --print) MODE=print ;;
    --teardown) MODE=teardown ;;
    --keep-ids) KEEP_IDS=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; pl_die "unknown option: $1" ;;
  esac
  shift
done
if [ -n "$ONLY" ]; then
  found=0
  for spec in "${ENV_SPECS[@]}"; do
    IFS='|' read -r s _ e _ _ _ <<<"$spec"
    [ "$s/$e" = "$ONLY" ] && found=1
  done
  [ "$found" = 1 ] || pl_die "--only $ONLY: unknown environment (known: demo/production demo/staging other/production)"
fi

if [ "$MODE" != print ] || [ ! -r "$STATE_FILE" ]; then pl_require_root; fi
T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }'; }

# ------------------------------------------------------------------ helpers
uuid() { cat /proc/sys/kernel/random/uuid; }
random_secret() { head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | cut -c1-"${1:-32}"; }
sql() { mariadb --batch --skip-column-names "$@"; }

check_prereqs() {
  pl_step "check prerequisites"
  local c missing=()
  for c in mariadb mariadb-dump mariadb-admin php nginx curl jq zstd tar runuser useradd flock; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  [ -x "/usr/sbin/php-fpm$(pl_php_version)" ] || missing+=(php-fpm)
  [ -f "$WP_SRC/wp-load.php" ] || missing+=("wordpress ($WP_SRC)")
  [ -d "$WP_SRC/wp-content/themes/twentytwentythree" ] || missing+=(wordpress-theme-twentytwentythree)
  [ "${#missing[@]}" -eq 0 ] || pl_die "missing: ${missing[*]} -- run scripts/install-deps.sh first"
}

lock_state() {
  install -d -m 0755 "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  if ! flock -w 300 9; then
    pl_die "another local-node.sh run holds $STATE_DIR/.lock (waited 300s; holders: $(fuser "$STATE_DIR/.lock" 2>/dev/null || echo unknown))"
  fi
}

# ------------------------------------------------------------------ state
declare -A SITE_ID=()
NODE_ID=""

# Read existing ids (if any) and fill in missing ones; write the state file.
ensure_state() {
  pl_step "state file $STATE_FILE"
  local old='{}' spec s sn e en t p key id envs_json sites_json
  if [ -f "$STATE_FILE" ]; then
    old=$(cat "$STATE_FILE")
    local old_root
    old_root=$(jq -r '.sites_root // empty' <<<"$old")
    if [ -n "$old_root" ] && [ "$old_root" != "$SITES_ROOT" ]; then
      pl_die "state was created with sites_root=$old_root but PRESSLUFT_SITES_ROOT is $SITES_ROOT; run --teardown first (or use the same root)"
    fi
  fi
  NODE_ID=$(jq -r '.node.id // empty' <<<"$old")
  [ -n "$NODE_ID" ] || NODE_ID=$(uuid)
  envs_json='[]' sites_json='[]'
  for spec in "${ENV_SPECS[@]}"; do
    IFS='|' read -r s sn e en t p <<<"$spec"
    if [ -z "${SITE_ID[$s]:-}" ]; then
      id=$(jq -r --arg s "$s" '[.sites[]? | select(.slug == $s) | .id][0] // empty' <<<"$old")
      [ -n "$id" ] || id=$(uuid)
      SITE_ID[$s]=$id
      sites_json=$(jq -c --arg id "$id" --arg slug "$s" --arg name "$sn" \
        '. + [{id: $id, slug: $slug, name: $name}]' <<<"$sites_json")
    fi
    key="$s/$e"
    id=$(jq -r --arg s "$s" --arg e "$e" \
      '[.environments[]? | select(.site_slug == $s and .environment_slug == $e) | .environment_id][0] // empty' <<<"$old")
    [ -n "$id" ] || id=$(uuid)
    envs_json=$(jq -c \
      --arg site_id "${SITE_ID[$s]}" --arg site_slug "$s" --arg site_name "$sn" \
      --arg env_id "$id" --arg env_slug "$e" --arg env_name "$en" --arg type "$t" \
      --argjson port "$p" --arg root "$SITES_ROOT/${SITE_ID[$s]}/$id" \
      --arg user "pl-$s-$e" --arg db "pl_${s}_${e}" --arg key "$key" '
      . + [{
        key: $key,
        site_id: $site_id, site_slug: $site_slug, site_name: $site_name,
        environment_id: $env_id, environment_slug: $env_slug, environment_name: $env_name,
        environment_type: $type, port: $port,
        preview_url: ("http://127.0.0.1:" + ($port | tostring) + "/"),
        title: ($site_name + " " + $env_slug),
        files_root: $root, current_path: ($root + "/current"), uploads_path: ($root + "/shared/uploads"),
        db_name: $db, db_user: $db, system_user: $user,
        php_fpm_socket: ("/run/php/" + $user + ".sock"),
        php_fpm_pool: ("/etc/php/'"$(pl_php_version)"'/fpm/pool.d/" + $user + ".conf"),
        nginx_conf: ("/etc/nginx/sites-enabled/" + $user + ".conf")
      }]' <<<"$envs_json")
  done
  jq -n --arg node_id "$NODE_ID" --arg root "$SITES_ROOT" --argjson sites "$sites_json" \
    --argjson envs "$envs_json" '{
      version: 1,
      sites_root: $root,
      node: {id: $node_id, name: "local", hostname: "localhost", ssh_port: 22, ssh_user: "root", is_local: true},
      sites: $sites,
      environments: $envs
    }' >"$STATE_FILE.new"
  if pl_write_if_changed "$STATE_FILE" 0644 <"$STATE_FILE.new"; then
    pl_log "state: wrote $STATE_FILE (node $NODE_ID)"
  else
    pl_log "state: $STATE_FILE unchanged (node $NODE_ID)"
  fi
  rm -f "$STATE_FILE.new"
}

# Load one environment (by index in .environments) into E_* variables.
load_env() {
  local i=$1 line
  line=$(jq -r --argjson i "$i" '.environments[$i] | [.key, .site_id, .site_slug, .site_name,
      .environment_id, .environment_slug, .environment_type, .port, .preview_url, .title,
      .files_root, .db_name, .db_user, .system_user, .php_fpm_socket, .php_fpm_pool, .nginx_conf]
      | join("|")' "$STATE_FILE")
  # shellcheck disable=SC2034 # E_SITE, E_SITE_NAME, E_ENV: loaded for completeness
  IFS='|' read -r E_KEY E_SITE_ID E_SITE E_SITE_NAME E_ID E_ENV E_TYPE E_PORT E_URL E_TITLE \
    E_ROOT E_DB E_DBUSER E_USER E_SOCK E_POOL E_NGINX <<<"$line"
  E_URL_NOSLASH=${E_URL%/}
  E_SECRETS="$SECRETS_DIR/$E_USER.env"
  E_BASELINE="$BASELINE_DIR/$E_ID"
  E_LOGDIR="$LOG_ROOT/$E_USER"
}

env_count() { jq '.environments | length' "$STATE_FILE"; }

# ------------------------------------------------------------------ per-environment steps
ensure_user() {
  pl_step "$E_KEY: system user $E_USER"
  if ! id -u "$E_USER" >/dev/null 2>&1; then
    useradd --system --user-group --home-dir "$E_ROOT" --no-create-home \
      --shell /usr/sbin/nologin --comment "Pressluft $E_KEY" "$E_USER"
    pl_log "$E_KEY: created system user $E_USER"
  elif [ "$(getent passwd "$E_USER" | cut -d: -f6)" != "$E_ROOT" ]; then
    usermod --home "$E_ROOT" "$E_USER"
    pl_log "$E_KEY: set home of $E_USER to $E_ROOT"
  fi
}

ensure_dirs() {
  pl_step "$E_KEY: directories"
  install -d -m 0755 "$SITES_ROOT" "$SITES_ROOT/$E_SITE_ID"
  install -d -m 0755 -o "$E_USER" -g "$E_USER" "$E_ROOT"
  install -d -m 0750 -o "$E_USER" -g "$E_USER" "$E_LOGDIR"
  # every path component above the env root must be traversable by nginx (www-data)
  local d=$SITES_ROOT
  while [ "$d" != "/" ] && [ -n "$d" ]; do
    chmod o+x "$d"
    d=$(dirname "$d")
  done
}

ensure_secrets() {
  pl_step "$E_KEY: credentials"
  install -d -m 0700 "$SECRETS_DIR"
  if [ ! -s "$E_SECRETS" ]; then
    # new credentials invalidate a baseline whose wp-config.php holds the old ones
    rm -rf "$E_BASELINE"
    (umask 077 && printf 'DB_PASSWORD=%s\nWP_ADMIN_USER=admin\nWP_ADMIN_PASSWORD=%s\n' \
      "$(random_secret 32)" "$(random_secret 24)" >"$E_SECRETS")
    pl_log "$E_KEY: generated credentials ($E_SECRETS, mode 0600)"
  fi
  chmod 0600 "$E_SECRETS"
  E_DB_PASSWORD=$(sed -n 's/^DB_PASSWORD=//p' "$E_SECRETS")
  E_WP_ADMIN_PASSWORD=$(sed -n 's/^WP_ADMIN_PASSWORD=//p' "$E_SECRETS")
  if [ -z "$E_DB_PASSWORD" ] || [ -z "$E_WP_ADMIN_PASSWORD" ]; then pl_die "$E_SECRETS is incomplete; delete it and re-run"; fi
}

ensure_database() {
  pl_step "$E_KEY: MariaDB database + user $E_DB"
  # password goes over stdin, never argv
  sql <<SQL
CREATE DATABASE IF NOT EXISTS \`$E_DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$E_DBUSER'@'localhost' IDENTIFIED BY '$E_DB_PASSWORD';
ALTER USER '$E_DBUSER'@'localhost' IDENTIFIED BY '$E_DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`$E_DB\`.* TO '$E_DBUSER'@'localhost';
SQL
}

wp_tables_present() {
  [ "$(sql -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='$E_DB' AND table_name='wp_options'")" = 1 ]
}

wp_files_present() {
  [ -f "$E_ROOT/current/wp-load.php" ] && [ -f "$E_ROOT/current/wp-config.php" ]
}

baseline_present() {
  [ -f "$E_BASELINE/meta.json" ] && [ -f "$E_BASELINE/files.tar.zst" ] && [ -f "$E_BASELINE/database.sql" ]
}

# Ownership = env user; dirs 755, files 644, wp-config.php 640.
fix_permissions() {
  pl_step "$E_KEY: ownership and permissions"
  chown -R -h "$E_USER:$E_USER" "$E_ROOT"
  find "$E_ROOT" -type d ! -perm 0755 -exec chmod 0755 {} +
  find "$E_ROOT" -type f ! -perm 0644 ! -name wp-config.php -exec chmod 0644 {} +
  find "$E_ROOT/releases" -maxdepth 2 -type f -name wp-config.php -exec chmod 0640 {} +
}

# Remove the environment's files (keeps the env root directory itself).
wipe_files() {
  find "$E_ROOT" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
}

write_wp_config() {
  local dest=$1 salts="" k
  for k in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
    salts+="define( '$k', '$(random_secret 64)' );"$'\n'
  done
  (umask 027 && cat >"$dest" <<PHPCONF
<?php
/*
 * wp-config.php of Pressluft environment $E_KEY ($E_ID),
 * written by scripts/local-node.sh. Credentials also in $E_SECRETS (root only).
 */
define( 'DB_NAME', '$E_DB' );
define( 'DB_USER', '$E_DBUSER' );
define( 'DB_PASSWORD', '$E_DB_PASSWORD' );
define( 'DB_HOST', 'localhost' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );

$salts
\$table_prefix = 'wp_';

define( 'PRESSLUFT_SITE_ID', '$E_SITE_ID' );
define( 'PRESSLUFT_ENVIRONMENT_ID', '$E_ID' );
define( 'WP_ENVIRONMENT_TYPE', '$E_TYPE' );
define( 'WP_DEBUG', false );
defined( 'WP_HTTP_BLOCK_EXTERNAL' ) || define( 'WP_HTTP_BLOCK_EXTERNAL', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_AUTO_UPDATE_CORE', false );
define( 'DISABLE_WP_CRON', true );
define( 'FS_METHOD', 'direct' );

if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}
require_once ABSPATH . 'wp-settings.php';
PHPCONF
  )
}

# A fresh release: copy of /usr/share/wordpress (symlinks resolved, no translations), own
# wp-config.php, real wp-content with themes/plugins, uploads -> shared, junk cache dir.
build_release() {
  local release=$1 rel="$E_ROOT/releases/$1" tmp f src sub item
  pl_step "$E_KEY: build release $release"
  tmp="$E_ROOT/releases/.building-$release"
  rm -rf "$tmp"
  install -d -m 0755 "$E_ROOT/releases" "$E_ROOT/shared" "$E_ROOT/shared/uploads" "$tmp"
  for f in "$WP_SRC"/* "$WP_SRC"/.[!.]*; do
    [ -e "$f" ] || continue
    case "${f##*/}" in wp-content | wp-config.php) continue ;; esac
    cp -rL "$f" "$tmp/"
  done
  install -d -m 0755 "$tmp/wp-content" "$tmp/wp-content/themes" "$tmp/wp-content/plugins"
  for src in "${WP_SRC_CONTENT[@]}"; do
    [ -f "$src/index.php" ] && [ ! -e "$tmp/wp-content/index.php" ] && cp -L "$src/index.php" "$tmp/wp-content/"
    for sub in themes plugins; do
      for item in "$src/$sub"/*; do
        [ -e "$item" ] || continue
        [ -e "$tmp/wp-content/$sub/${item##*/}" ] || cp -rL "$item" "$tmp/wp-content/$sub/"
      done
    done
  done
  ln -s ../../../shared/uploads "$tmp/wp-content/uploads"
  install -d -m 0755 "$tmp/wp-content/cache/page" "$tmp/wp-content/cache/object"
  printf '<!-- page cache of / (junk: backups must exclude wp-content/cache) -->\n' >"$tmp/wp-content/cache/page/index.html"
  head -c 65536 /dev/urandom >"$tmp/wp-content/cache/object/blob-1.bin"
  head -c 32768 /dev/urandom >"$tmp/wp-content/cache/object/blob-2.bin"
  write_wp_config "$tmp/wp-config.php"
  mv -T "$tmp" "$rel"
  ln -sfn "releases/$release" "$E_ROOT/current.tmp"
  mv -T "$E_ROOT/current.tmp" "$E_ROOT/current"
}

# Offline WordPress install + demo content, run as the environment's user.
wp_install_content() {
  pl_step "$E_KEY: WordPress install (PHP CLI, as $E_USER)"
  local out
  if ! out=$(cd "$E_ROOT/current" && PL_WP_ADMIN_PASSWORD=$E_WP_ADMIN_PASSWORD \
    runuser -u "$E_USER" -- php -d display_errors=stderr -d memory_limit=256M -- \
    "$E_ROOT/current" "$E_TITLE" "$E_URL_NOSLASH" "$E_KEY" "$UPLOAD_SUBDIR" 2>&1 <<'PHP'
<?php
// args: wp dir, site title, site url (no trailing slash), label "site/env", uploads subdir
list(, $dir, $title, $url, $label, $subdir) = $argv;
error_reporting(E_ALL & ~E_DEPRECATED & ~E_NOTICE & ~E_USER_DEPRECATED);
$u = parse_url($url);
$_SERVER['HTTP_HOST'] = $u['host'] . (isset($u['port']) ? ':' . $u['port'] : '');
$_SERVER['SERVER_NAME'] = $u['host'];
$_SERVER['SERVER_PORT'] = isset($u['port']) ? $u['port'] : 80;
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
define('WP_INSTALLING', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
require $dir . '/wp-load.php';
// no mail on this machine: skip the "new site" notification
function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password) {}
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/image.php';

if (!is_blog_installed()) {
    $r = wp_install($title, 'admin', 'admin@example.test', true, '', getenv('PL_WP_ADMIN_PASSWORD'));
    if (is_wp_error($r) || empty($r['user_id'])) { fwrite(STDERR, "wp_install failed\n"); exit(1); }
}
update_option('siteurl', $url);
update_option('home', $url);
update_option('blogname', $title);
update_option('blogdescription', "Pressluft local node $label");
update_option('permalink_structure', '');

$made = array();
for ($i = 1; $i <= 3; $i++) {
    $t = "Hello from $label #$i";
    $q = new WP_Query(array('post_type' => 'post', 'title' => $t, 'post_status' => 'any', 'fields' => 'ids'));
    if ($q->have_posts()) continue;
    $id = wp_insert_post(array(
        'post_title' => $t,
        'post_content' => "<!-- wp:paragraph --><p>Post $i of $label, created by scripts/local-node.sh.</p><!-- /wp:paragraph -->",
        'post_status' => 'publish',
        'post_author' => 1,
        'post_date' => sprintf('2026-11-0%d 12:00:00', $i),
    ), true);
    if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message() . "\n"); exit(1); }
    $made[] = $id;
}

$up = wp_upload_dir(null, false);
$base = $up['basedir'] . '/' . $subdir;
if (!is_dir($base) && !wp_mkdir_p($base)) { fwrite(STDERR, "cannot create $base\n"); exit(1); }
$slug = str_replace('/', '-', $label);
$files = array(
    "pressluft-$slug.png" => array('image/png', base64_decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==')),
    "notes-$slug.txt" => array('text/plain', "Upload of $label (Pressluft local node).\n"),
);
foreach ($files as $name => $f) {
    $path = "$base/$name";
    if (!file_exists($path)) file_put_contents($path, $f[1]);
    $rel = "$subdir/$name";
    $q = new WP_Query(array('post_type' => 'attachment', 'post_status' => 'inherit', 'fields' => 'ids',
        'meta_key' => '_wp_attached_file', 'meta_value' => $rel));
    if ($q->have_posts()) continue;
    $aid = wp_insert_attachment(array(
        'guid' => $up['baseurl'] . '/' . $rel,
        'post_mime_type' => $f[0],
        'post_title' => $name,
        'post_content' => '',
        'post_status' => 'inherit',
    ), $path, 0, true);
    if (is_wp_error($aid)) { fwrite(STDERR, $aid->get_error_message() . "\n"); exit(1); }
    update_attached_file($aid, $path);
    if ($f[0] === 'image/png') {
        wp_update_attachment_metadata($aid, array('width' => 1, 'height' => 1, 'file' => $rel, 'sizes' => array()));
    }
}
echo "ok: installed=" . (is_blog_installed() ? 'yes' : 'no') . " new_posts=" . count($made) . "\n";
PHP
  ); then
    printf '%s\n' "$out" >&2
    pl_die "$E_KEY: WordPress install failed"
  fi
  case "$out" in *"ok: installed=yes"*) ;; *) printf '%s\n' "$out" >&2; pl_die "$E_KEY: WordPress install did not report success" ;; esac
  local non_innodb
  non_innodb=$(sql -e "SELECT GROUP_CONCAT(table_name) FROM information_schema.tables WHERE table_schema='$E_DB' AND engine <> 'InnoDB'")
  [ "$non_innodb" = "NULL" ] || [ -z "$non_innodb" ] || pl_warn "$E_KEY: non-InnoDB tables: $non_innodb"
}

create_baseline() {
  pl_step "$E_KEY: baseline snapshot"
  local tmp="$BASELINE_DIR/.tmp-$E_ID" release
  rm -rf "$tmp"
  install -d -m 0700 "$BASELINE_DIR" "$tmp"
  release=$(readlink "$E_ROOT/current")
  mariadb-dump --single-transaction --quick --routines --triggers --hex-blob \
    --default-character-set=utf8mb4 --skip-dump-date "$E_DB" >"$tmp/database.sql"
  tar -C "$E_ROOT" --numeric-owner -cf - releases current shared | zstd -q -1 -T0 -o "$tmp/files.tar.zst"
  jq -n --arg env "$E_KEY" --arg id "$E_ID" --arg release "${release#releases/}" \
    --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    '{environment: $env, environment_id: $id, release: $release, created_at: $at}' >"$tmp/meta.json"
  rm -rf "$E_BASELINE"
  mv -T "$tmp" "$E_BASELINE"
  pl_log "$E_KEY: baseline saved ($(du -sh "$E_BASELINE" | cut -f1), release ${release#releases/})"
}

restore_files_from_baseline() {
  pl_step "$E_KEY: restore files from baseline"
  wipe_files
  zstd -q -d -c "$E_BASELINE/files.tar.zst" | tar -C "$E_ROOT" --numeric-owner -xpf -
  fix_permissions
}

restore_db_from_baseline() {
  pl_step "$E_KEY: restore database from baseline"
  sql -e "DROP DATABASE IF EXISTS \`$E_DB\`; CREATE DATABASE \`$E_DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
  sql "$E_DB" <"$E_BASELINE/database.sql"
}

provision_from_scratch() {
  local release
  release="$(date -u +%Y%m%dT%H%M%SZ)-baseline"
  pl_log "$E_KEY: provisioning from scratch (release $release)"
  pl_step "$E_KEY: wipe previous files and database"
  wipe_files
  sql -e "DROP DATABASE IF EXISTS \`$E_DB\`; CREATE DATABASE \`$E_DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
  build_release "$release"
  fix_permissions
  wp_install_content
  fix_permissions
  create_baseline
}

ensure_content() {
  if ! baseline_present; then
    provision_from_scratch
    return 0
  fi
  if [ "$RESET" = 1 ]; then
    restore_files_from_baseline
    restore_db_from_baseline
    pl_log "$E_KEY: reset to baseline ($(jq -r .release "$E_BASELINE/meta.json"))"
    return 0
  fi
  if ! wp_files_present; then
    restore_files_from_baseline
    pl_log "$E_KEY: WordPress files were missing, restored from baseline"
  fi
  if ! wp_tables_present; then
    restore_db_from_baseline
    pl_log "$E_KEY: WordPress tables were missing, restored from baseline"
  fi
}

CHANGED_FPM=0 CHANGED_NGINX=0

ensure_php_pool() {
  pl_step "$E_KEY: php-fpm pool"
  if pl_write_if_changed "$E_POOL" 0644 <<POOL; then
; Pressluft environment $E_KEY ($E_ID) -- written by scripts/local-node.sh
[$E_USER]
user = $E_USER
group = $E_USER
listen = $E_SOCK
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = ondemand
pm.max_children = 4
pm.process_idle_timeout = 30s
pm.max_requests = 500
chdir = /
catch_workers_output = yes
php_admin_flag[log_errors] = on
php_admin_value[error_log] = $E_LOGDIR/php-error.log
php_admin_value[open_basedir] = $E_ROOT/:/tmp/
php_admin_value[opcache.revalidate_freq] = 0
POOL
    CHANGED_FPM=1
    pl_log "$E_KEY: wrote $E_POOL"
  fi
}

ensure_nginx_site() {
  pl_step "$E_KEY: nginx server block"
  if pl_write_if_changed "$E_NGINX" 0644 <<NGINX; then
# Pressluft environment $E_KEY ($E_ID) -- written by scripts/local-node.sh
server {
    listen 127.0.0.1:$E_PORT;
    server_name _;
    root $E_ROOT/current;
    index index.php index.html;
    disable_symlinks off;
    client_max_body_size 64m;
    access_log /var/log/nginx/$E_USER.access.log;
    error_log /var/log/nginx/$E_USER.error.log;

    location = /favicon.ico { log_not_found off; access_log off; }
    location ~ /\.(?!well-known) { deny all; }
    location ^~ /wp-content/cache/ { deny all; }
    location ~* ^/wp-content/uploads/.*\.php\$ { deny all; }
    location = /wp-config.php { deny all; }

    location / {
        try_files \$uri \$uri/ /index.php?\$args;
    }

    location ~ \.php\$ {
        try_files \$uri =404;
        include fastcgi_params;
        # Debian's fastcgi_params (security update, nginx 1.22.1-9+deb12u*) passes
        # HTTP_HOST=\$host, which drops the port: WordPress would then redirect every
        # front-end request to itself. The listen address is fixed, so this is safe:
        fastcgi_param HTTP_HOST \$host:\$server_port;
        fastcgi_param SCRIPT_FILENAME \$realpath_root\$fastcgi_script_name;
        fastcgi_param DOCUMENT_ROOT \$realpath_root;
        fastcgi_pass unix:$E_SOCK;
        fastcgi_read_timeout 60s;
    }
}
NGINX
    CHANGED_NGINX=1
    pl_log "$E_KEY: wrote $E_NGINX"
  fi
}

# Preview URL answers 200 and shows the site title and a post title.
check_http() {
  pl_step "$E_KEY: HTTP check $E_URL"
  local body code i
  body=$(mktemp)
  for ((i = 0; i < 20; i++)); do
    code=$(curl -s -m 10 -o "$body" -w '%{http_code}' "$E_URL" || true)
    if [ "$code" = 200 ] && grep -qF "$E_TITLE" "$body" && grep -qF "Hello from $E_KEY #" "$body"; then
      rm -f "$body"
      pl_log "$E_KEY: $E_URL -> 200 \"$E_TITLE\""
      return 0
    fi
    sleep 0.25
  done
  printf -- '----- response (HTTP %s), first lines -----\n' "$code" >&2
  head -c 1500 "$body" >&2 || true
  printf '\n' >&2
  rm -f "$body"
  pl__log_tail "/var/log/nginx/$E_USER.error.log"
  pl__log_tail "$E_LOGDIR/php-error.log"
  pl_die "$E_KEY: $E_URL did not answer 200 with title \"$E_TITLE\" and its posts"
}

selected() { [ -z "$ONLY" ] || [ "$ONLY" = "$E_KEY" ]; }

# ------------------------------------------------------------------ registration
register_control_plane() {
  if [ -z "${PRESSLUFT_URL:-}" ]; then
    pl_log "registration: PRESSLUFT_URL not set, skipped"
    return 0
  fi
  pl_step "registration: login to $PRESSLUFT_URL"
  if [ -z "${PRESSLUFT_EMAIL:-}" ] || [ -z "${PRESSLUFT_PASSWORD:-}" ]; then
    pl_die "registration: PRESSLUFT_URL is set but PRESSLUFT_EMAIL/PRESSLUFT_PASSWORD are not"
  fi
  local base=${PRESSLUFT_URL%/} tmp code token
  tmp=$(mktemp -d)
  chmod 0700 "$tmp"
  REG_TMP=$tmp
  trap 'rm -rf "$REG_TMP"' EXIT
  code=$(jq -n '{email: env.PRESSLUFT_EMAIL, password: env.PRESSLUFT_PASSWORD}' |
    curl -sS -m 15 -o "$tmp/body" -w '%{http_code}' -c "$tmp/cookies" \
      -H 'Content-Type: application/json' --data-binary @- "$base/api/login") ||
    pl_die "registration: cannot reach $base/api/login"
  if [ "$code" != 200 ] && [ "$code" != 201 ] && [ "$code" != 204 ]; then
    printf '%s\n' "$(head -c 500 "$tmp/body")" >&2
    pl_die "registration: login failed (HTTP $code)"
  fi
  token=$(awk '$6 == "session_token" { print $7 }' "$tmp/cookies" | tail -n 1)
  [ -n "$token" ] || token=$(jq -r '.token // .session_token // empty' "$tmp/body" 2>/dev/null || true)
  [ -n "$token" ] || pl_die "registration: login answered $code but set no session_token cookie"
  (umask 077 && printf 'Authorization: Bearer %s\n' "$token" >"$tmp/auth")

  api_post() { # path label (JSON body in $tmp/req.json)
    local path=$1 label=$2 c
    pl_step "registration: $label"
    c=$(curl -sS -m 15 -o "$tmp/body" -w '%{http_code}' -H @"$tmp/auth" \
      -H 'Content-Type: application/json' -H 'X-Requested-With: pressluft-local-node' \
      --data-binary @"$tmp/req.json" "$base$path") || pl_die "registration: cannot reach $base$path"
    case "$c" in
      201) pl_log "registration: $label created" ;;
      200) pl_log "registration: $label already registered" ;;
      *)
        printf '%s\n' "$(head -c 800 "$tmp/body")" >&2
        pl_die "registration: POST $path ($label) answered HTTP $c"
        ;;
    esac
  }

  jq '.node | {id, name, hostname, ssh_port, ssh_user, is_local}' "$STATE_FILE" >"$tmp/req.json"
  api_post /api/nodes "node local ($NODE_ID)"
  local i n sid
  n=$(jq '.sites | length' "$STATE_FILE")
  for ((i = 0; i < n; i++)); do
    jq --argjson i "$i" '.sites[$i] | {id, name, slug}' "$STATE_FILE" >"$tmp/req.json"
    api_post /api/sites "site $(jq -r --argjson i "$i" '.sites[$i].slug' "$STATE_FILE")"
  done
  n=$(env_count)
  for ((i = 0; i < n; i++)); do
    sid=$(jq -r --argjson i "$i" '.environments[$i].site_id' "$STATE_FILE")
    jq --argjson i "$i" --arg node "$NODE_ID" '.environments[$i] | {id: .environment_id,
        name: .environment_name, slug: .environment_slug, environment_type, node_id: $node,
        preview_url, files_root, db_name, system_user}' "$STATE_FILE" >"$tmp/req.json"
    api_post "/api/sites/$sid/environments" "environment $(jq -r --argjson i "$i" '.environments[$i].key' "$STATE_FILE")"
  done
}

# ------------------------------------------------------------------ modes
do_print() {
  [ -f "$STATE_FILE" ] || pl_die "not provisioned yet ($STATE_FILE missing); run scripts/local-node.sh"
  local i n cur=()
  n=$(env_count)
  for ((i = 0; i < n; i++)); do
    load_env "$i"
    cur+=("$(readlink "$E_ROOT/current" 2>/dev/null || true)")
  done
  jq --argjson cur "$(printf '%s\n' "${cur[@]}" | jq -R . | jq -s .)" \
    '.environments |= [to_entries[] | .value + {current_release: ($cur[.key]
      | if . == "" then null else sub("^releases/"; "") end)}]' "$STATE_FILE"
}

do_teardown() {
  check_prereqs
  lock_state
  pl_ensure_mariadb
  local i n removed_conf=0 spec s e
  # works from the state file, or from the fixed spec list when the state file is gone
  local -a users=() dbs=() roots=()
  if [ -f "$STATE_FILE" ]; then
    n=$(env_count)
    for ((i = 0; i < n; i++)); do
      load_env "$i"
      users+=("$E_USER") dbs+=("$E_DB") roots+=("$E_ROOT")
    done
  else
    for spec in "${ENV_SPECS[@]}"; do
      IFS='|' read -r s _ e _ _ _ <<<"$spec"
      users+=("pl-$s-$e") dbs+=("pl_${s}_${e}")
    done
  fi
  pl_step "teardown: php-fpm pools and nginx server blocks"
  for u in "${users[@]}"; do
    for f in "/etc/php/$(pl_php_version)/fpm/pool.d/$u.conf" "/etc/nginx/sites-enabled/$u.conf"; do
      if [ -e "$f" ]; then rm -f "$f"; removed_conf=1; pl_log "teardown: removed $f"; fi
    done
  done
  if [ "$removed_conf" = 1 ]; then
    if [ -n "$(pl__fpm_master_pid)" ]; then pl_reload_php_fpm; fi
    if [ -n "$(pl__nginx_pid)" ]; then pl_reload_nginx; fi
  fi
  pl_step "teardown: databases"
  for i in "${!dbs[@]}"; do
    sql -e "DROP DATABASE IF EXISTS \`${dbs[$i]}\`; DROP USER IF EXISTS '${dbs[$i]}'@'localhost';"
    pl_log "teardown: dropped database + user ${dbs[$i]}"
  done
  pl_step "teardown: files"
  for r in "${roots[@]}"; do
    case "$r" in "$SITES_ROOT"/*/*) ;; *) pl_die "refusing to delete unexpected path $r" ;; esac
    rm -rf "$r"
    rmdir "$(dirname "$r")" 2>/dev/null || true
    pl_log "teardown: removed $r"
  done
  rmdir "$SITES_ROOT" 2>/dev/null || true
  if [ "$SITES_ROOT" = /srv/pressluft/sites ]; then rmdir /srv/pressluft 2>/dev/null || true; fi
  pl_step "teardown: system users"
  for u in "${users[@]}"; do
    if id -u "$u" >/dev/null 2>&1; then
      pkill -KILL -u "$u" 2>/dev/null || true
      userdel "$u" >/dev/null 2>&1 || userdel -f "$u"
      pl_log "teardown: removed user $u"
    fi
    rm -rf "${LOG_ROOT:?}/$u"
    rm -f "/var/log/nginx/$u.access.log" "/var/log/nginx/$u.error.log"
  done
  rmdir "$LOG_ROOT" 2>/dev/null || true
  pl_step "teardown: state"
  rm -rf "$SECRETS_DIR" "$BASELINE_DIR"
  if [ "$KEEP_IDS" = 1 ]; then
    pl_log "teardown: removed $SECRETS_DIR, $BASELINE_DIR; kept $STATE_FILE (--keep-ids)"
  else
    rm -f "$STATE_FILE" "$STATE_DIR/.lock"
    rmdir "$STATE_DIR" 2>/dev/null || true
    pl_log "teardown: removed $STATE_FILE, $SECRETS_DIR, $BASELINE_DIR"
  fi
  pl_log "teardown done in $(elapsed)"
}

do_provision() {
  check_prereqs
  lock_state
  pl_ensure_services
  ensure_state
  local i n
  n=$(env_count)
  for ((i = 0; i < n; i++)); do
    load_env "$i"
    selected || continue
    ensure_user
    ensure_dirs
    ensure_secrets
    ensure_database
    ensure_content
    ensure_php_pool
    ensure_nginx_site
  done
  if [ "$CHANGED_FPM" = 1 ]; then pl_reload_php_fpm; else pl_ensure_php_fpm; fi
  if [ "$CHANGED_NGINX" = 1 ]; then pl_reload_nginx; else pl_ensure_nginx; fi
  for ((i = 0; i < n; i++)); do
    load_env "$i"
    selected || continue
    check_http
  done
  register_control_plane
  pl_step "done"
  pl_log "done in $(elapsed) -- state: $STATE_FILE (scripts/local-node.sh --print)"
}

case "$MODE" in
  print) do_print ;;
  teardown) do_teardown ;;
  provision) do_provision ;;
esac
