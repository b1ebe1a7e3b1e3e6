#!/usr/bin/env bash
# bench-backup.sh — backup throughput of `pressluft-artifact pack` against the shell pipeline
# `tar | zstd -3 -T0 | tee | sha256sum` and `restic backup`, on the shared WordPress-like corpus.
#
# usage: scripts/bench-backup.sh [--help] [SIZES...]        (default: 200M 1G)
#
# For each SIZE: builds pressluft-artifact (release), generates the corpus with
# make-corpus.sh into a tmpfs, arranges it as an environment (env/releases/r1 = the corpus site,
# env/current -> releases/r1, env/shared/uploads with wp-content/uploads -> ../../../shared/uploads;
# moves and symlinks, no copies) and measures, interleaved, best of $RUNS (default 3):
#   ours    pressluft-artifact pack --scope full --env-root env --db-dump db.sql ($PACK_ARGS)
#   shell   tar -cf - --exclude=<wp-content/cache> env db.sql | zstd -3 -T0 | tee OUT | sha256sum
#   restic  restic backup (fresh repository in the tmpfs each run; only the backup is timed)
# Wall time and peak RSS from /usr/bin/time -v; CPU = user+sys seconds (less load-sensitive).
# Targets: ours <= 0.40 x shell, restic >= 2.5 x ours, peak RSS <= 128 MB and flat in the tree
# size, artifact within 1 % of the zstd -3 output (the shell pipeline's output).
#
# env: WP_SRC (/usr/share/wordpress), MAKE_CORPUS (../shared/bench/make-corpus.sh beside the repository),
#      RUNS (3), PACK_ARGS (extra pack flags, e.g. "--threads 0"), ARTIFACT_BIN (skip the build),
#      BENCH_WORK (use this tmpfs dir and keep it; corpora found there are reused),
#      CARGO_TARGET_DIR (honoured by the build).
# Needs: cargo, python3, GNU tar, zstd, sha256sum, restic, /usr/bin/time (installed with apt-get
# when missing and running as root). See docs/benchmarks.md.
set -euo pipefail

BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WP_SRC=${WP_SRC:-/usr/share/wordpress}
MAKE_CORPUS=${MAKE_CORPUS:-$(cd "$(dirname "$0")/.." && pwd)/../shared/bench/make-corpus.sh}
RUNS=${RUNS:-3}
export WP_SRC

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

# need TOOL APT_PACKAGE: the tool must exist; installed with apt-get when root.
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && [ -n "${2:-}" ] && command -v apt-get >/dev/null; then
    log "installing $2 (for $1)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null \
      || die "apt-get install $2 failed"
    command -v "$1" >/dev/null 2>&1 && return 0
  fi
  die "missing tool $1 (Debian package ${2:-?}); install it and rerun"
}

check_tools() {
  need python3 python3
  need tar tar
  need zstd zstd
  need sha256sum coreutils
  [ -x /usr/bin/time ] || need /usr/bin/time time
  [ -x /usr/bin/time ] || die "missing /usr/bin/time (Debian package time)"
  [ -f "$MAKE_CORPUS" ] || die "missing corpus generator $MAKE_CORPUS (set MAKE_CORPUS)"
  [ -d "$WP_SRC" ] || die "missing $WP_SRC (apt-get install -y wordpress, or set WP_SRC)"
  if [ -z "${ARTIFACT_BIN:-}" ]; then
    need cargo ""
  fi
}

# Builds the release binary (unless ARTIFACT_BIN is set) and sets ARTIFACT_BIN.
build_artifact() {
  if [ -n "${ARTIFACT_BIN:-}" ]; then
    [ -x "$ARTIFACT_BIN" ] || die "ARTIFACT_BIN=$ARTIFACT_BIN is not executable"
    return
  fi
  log "building pressluft-artifact (release)"
  (cd "$BENCH_REPO" && cargo build --release --quiet -p pressluft-artifact) \
    || die "cargo build --release -p pressluft-artifact failed"
  local tdir
  tdir=$(cd "$BENCH_REPO" && cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  ARTIFACT_BIN="$tdir/release/pressluft-artifact"
  [ -x "$ARTIFACT_BIN" ] || die "built binary not found at $ARTIFACT_BIN"
}

size_bytes() { # 200M -> bytes (powers of 1024, like make-corpus.sh)
  python3 -c 'import sys
s=sys.argv[1].strip().upper().rstrip("B"); m={"K":1<<10,"M":1<<20,"G":1<<30,"T":1<<40}
print(int(float(s[:-1])*m[s[-1]]) if s and s[-1] in m else int(s))' "$1"
}

# Sets WORK to a tmpfs directory with room for NEED bytes; mounts a private tmpfs if needed.
WORK= MOUNTED= KEEP_WORK=
setup_work() {
  local need=$1 avail fstype
  if [ -n "${BENCH_WORK:-}" ]; then
    WORK=$BENCH_WORK KEEP_WORK=1
    mkdir -p "$WORK"
  else
    avail=$(df -B1 --output=avail /dev/shm 2>/dev/null | tail -1 | tr -d ' ' || echo 0)
    fstype=$(stat -f -c %T /dev/shm 2>/dev/null || echo none)
    if [ "$fstype" = tmpfs ] && [ "${avail:-0}" -gt "$need" ]; then
      WORK=$(mktemp -d /dev/shm/pressluft-bench.XXXXXX)
    else
      [ "$(id -u)" = 0 ] || die "/dev/shm lacks $need bytes and mounting a tmpfs needs root"
      WORK=$(mktemp -d /tmp/pressluft-bench.XXXXXX)
      mount -t tmpfs -o "size=$((need / 1048576 + 512))m,mode=0700" pressluft-bench "$WORK" \
        || die "cannot mount a tmpfs at $WORK"
      MOUNTED=1
    fi
  fi
  [ "$(stat -f -c %T "$WORK")" = tmpfs ] || log "warning: $WORK is not a tmpfs; figures include disk I/O"
  log "work dir $WORK"
}

cleanup_work() {
  [ -n "$WORK" ] || return 0
  [ -n "$KEEP_WORK" ] && { log "kept $WORK"; return 0; }
  if [ -n "$MOUNTED" ]; then
    umount "$WORK" 2>/dev/null || umount -l "$WORK" 2>/dev/null || true
    rmdir "$WORK" 2>/dev/null || true
  else
    rm -rf "$WORK"
  fi
}

# corpus SIZE -> prints the corpus root (holding env/ and db.sql); generated once per SIZE.
corpus() {
  local size=$1 root="$WORK/corpus-$1"
  if [ ! -f "$root/.arranged" ]; then
    rm -rf "$root"
    log "generating the $size corpus (make-corpus.sh, seed 42)"
    bash "$MAKE_CORPUS" "$root" "$size" >"$WORK/corpus-$size.log" 2>&1 \
      || { cat "$WORK/corpus-$size.log" >&2; die "make-corpus.sh $size failed"; }
    # Arrange as an environment: moves and symlinks only.
    mkdir -p "$root/env/releases" "$root/env/shared"
    mv "$root/site" "$root/env/releases/r1"
    mv "$root/env/releases/r1/wp-content/uploads" "$root/env/shared/uploads"
    ln -s ../../../shared/uploads "$root/env/releases/r1/wp-content/uploads"
    ln -s releases/r1 "$root/env/current"
    touch "$root/.arranged"
  fi
  echo "$root"
}

# timed LABEL CMD... : runs CMD under /usr/bin/time -v (stdout to $WORK/last.out); appends
# "LABEL wall_s cpu_s rss_kb" to $WORK/results.
timed() {
  local label=$1; shift
  local tf="$WORK/time.txt"
  if ! /usr/bin/time -v -o "$tf" "$@" >"$WORK/last.out" 2>"$WORK/last.err"; then
    cat "$WORK/last.out" "$WORK/last.err" >&2
    die "$label failed: $*"
  fi
  python3 - "$label" "$tf" >>"$WORK/results" <<'PY'
import re, sys
label, tf = sys.argv[1], sys.argv[2]
t = open(tf).read()
def f(pat):
    m = re.search(pat, t)
    return m.group(1) if m else '0'
wall = f(r'Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)')
parts = [float(p) for p in wall.split(':')]
secs = 0.0
for p in parts:
    secs = secs * 60 + p
cpu = float(f(r'User time \(seconds\): (\S+)')) + float(f(r'System time \(seconds\): (\S+)'))
print(label, f'{secs:.2f}', f'{cpu:.2f}', f(r'Maximum resident set size \(kbytes\): (\d+)'))
PY
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# summarize LABEL -> "best_wall min-max best_cpu max_rss_mb" from $WORK/results
summarize() {
  python3 - "$1" "$WORK/results" <<'PY'
import sys
label, path = sys.argv[1], sys.argv[2]
rows = [l.split() for l in open(path) if l.split()[0] == label]
w = [float(r[1]) for r in rows]; c = [float(r[2]) for r in rows]; m = [int(r[3]) for r in rows]
print(f'{min(w):.2f} {min(w):.2f}-{max(w):.2f} {min(c):.2f} {max(m)/1024:.0f}')
PY
}

usage() { sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# ------------------------------------------------------------------------------------------ main
bench_backup_main() {
  case "${1:-}" in -h|--help) usage; exit 0 ;; esac
  local sizes=("$@")
  [ ${#sizes[@]} -gt 0 ] || sizes=(200M 1G)
  local s total=0
  for s in "${sizes[@]}"; do
    [[ $s =~ ^[0-9]+(\.[0-9]+)?[KMGkmg]?$ ]] || die "bad size $s (e.g. 200M, 1G)"
    total=$((total + $(size_bytes "$s")))
  done
  check_tools
  need restic restic
  build_artifact
  # per size: corpus (+5 % cache) + our artifact + shell output + restic repo, plus slack
  setup_work $((total * 5 + (1 << 30)))
  trap cleanup_work EXIT
  trap 'exit 130' INT TERM
  : >"$WORK/results"
  echo "$(date -u +%FT%TZ) pressluft-artifact $("$ARTIFACT_BIN" --version | python3 -c 'import json,sys;print(json.load(sys.stdin)["version"])') on $(nproc) CPUs; zstd $(zstd -V | grep -o 'v[0-9.]*'); $(restic version | cut -d' ' -f1-2); runs=$RUNS; PACK_ARGS='${PACK_ARGS:-}'"
  local table=() rss_by_size=()
  for s in "${sizes[@]}"; do
    local root out pw
    root=$(corpus "$s")
    local payload
    payload=$(grep -o 'backup_bytes=[0-9]*' "$root/MANIFEST.txt" | cut -d= -f2)
    pw="$WORK/restic-password"
    echo "bench-password-not-secret" >"$pw"
    log "$s: load before: $(loadavg)"
    local i
    for i in $(seq 1 "$RUNS"); do
      out="$WORK/ours-$s.tar.zst"; rm -f "$out"
      # shellcheck disable=SC2086
      timed "ours-$s" "$ARTIFACT_BIN" pack --scope full --site-id bench --environment-id bench \
        --backup-id "b$i" --env-root "$root/env" --db-dump "$root/db.sql" --out "$out" ${PACK_ARGS:-}
      python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"], d; print(d["size_bytes"])' \
        "$WORK/last.out" >"$WORK/ours-$s.size"
      timed "shell-$s" bash -c 'set -o pipefail; tar -cf - -C "$1" --exclude=env/releases/r1/wp-content/cache env db.sql | zstd -3 -T0 -q | tee "$2" | sha256sum >/dev/null' \
        _ "$root" "$WORK/shell-$s.tar.zst"
      rm -rf "$WORK/restic-$s" "$WORK/restic-cache"
      RESTIC_PASSWORD_FILE=$pw restic init --quiet -r "$WORK/restic-$s" >/dev/null
      timed "restic-$s" env RESTIC_PASSWORD_FILE="$pw" restic -r "$WORK/restic-$s" \
        --cache-dir "$WORK/restic-cache" --quiet backup \
        --exclude "$root/env/releases/r1/wp-content/cache" "$root/env" "$root/db.sql"
      rm -rf "$WORK/restic-$s" "$WORK/restic-cache"
    done
    log "$s: load after: $(loadavg)"
    local ours shell restic ours_size zstd_size
    ours=$(summarize "ours-$s"); shell=$(summarize "shell-$s"); restic=$(summarize "restic-$s")
    ours_size=$(cat "$WORK/ours-$s.size")
    zstd_size=$(stat -c %s "$WORK/shell-$s.tar.zst")
    rm -f "$WORK/ours-$s.tar.zst" "$WORK/shell-$s.tar.zst"
    table+=("$s $payload $ours_size $zstd_size | $ours | $shell | $restic | $(loadavg)")
    rss_by_size+=("$(echo "$ours" | cut -d' ' -f4)")
  done
  python3 - "${table[@]}" <<'PY'
import sys
rows = [r for r in sys.argv[1:]]
ok_all = True
def verdict(ok):
    global ok_all
    ok_all &= ok
    return 'PASS' if ok else 'MISS'
print()
print('backup (best of runs; wall s [range], CPU s = user+sys, peak RSS MB)')
print(f'{"size":>5} {"payload MB":>10} | {"ours wall":>9} {"range":>11} {"cpu":>5} {"rss":>4} | {"shell wall":>10} {"range":>11} {"cpu":>5} | {"restic wall":>11} {"range":>11} {"cpu":>5} {"rss":>4}')
results = []
for r in rows:
    head, ours, shell, restic, load = [p.strip() for p in r.split('|')]
    size, payload, osz, zsz = head.split()
    ow, orng, oc, orss = ours.split(); sw, srng, sc, srss = shell.split(); rw, rrng, rc, rrss = restic.split()
    print(f'{size:>5} {int(payload)/2**20:>10.0f} | {ow:>9} {orng:>11} {oc:>5} {orss:>4} | {sw:>10} {srng:>11} {sc:>5} | {rw:>11} {rrng:>11} {rc:>5} {rrss:>4}   (load after: {load})')
    results.append((size, float(ow), float(sw), float(rw), int(orss), int(osz), int(zsz)))
print()
print('targets: ours/shell <= 0.40, restic/ours >= 2.5, peak RSS <= 128 MB (flat in size), size within 1 % of zstd -3')
for size, ow, sw, rw, orss, osz, zsz in results:
    r1 = ow / sw; r2 = rw / ow; d = osz / zsz - 1
    print(f'{size:>5}: ours/shell = {r1:.2f} {verdict(r1 <= 0.40)} | restic/ours = {r2:.2f}x {verdict(r2 >= 2.5)}'
          f' | peak RSS {orss} MB {verdict(orss <= 128)} | size {osz} vs zstd -3 {zsz} ({d*100:+.2f} %) {verdict(abs(d) <= 0.01)}')
if len(results) > 1:
    lo = min(results, key=lambda x: x[5]); hi = max(results, key=lambda x: x[5])
    flat = hi[4] <= lo[4] * 1.25 + 8
    print(f'RSS flat in tree size: {lo[0]} {lo[4]} MB -> {hi[0]} {hi[4]} MB {verdict(flat)}')
print('overall:', 'PASS' if ok_all else 'MISS (see above)')
PY
}

if [ "${BENCH_LIB_ONLY:-}" != 1 ]; then
  bench_backup_main "$@"
fi
