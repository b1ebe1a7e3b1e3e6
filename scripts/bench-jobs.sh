#!/usr/bin/env bash
# bench-jobs.sh — job queue benchmark: enqueue-to-running latency (p50, p99, max) over 1,000
# jobs and claim throughput with 10,000 queued jobs, against a naive SELECT-then-UPDATE claim.
#
# usage: scripts/bench-jobs.sh [--help] [--tmpfs] [--what-if-index] [--quick] [-- BENCH_ARGS...]
#
#   --tmpfs          also run on tmpfs (/dev/shm, or $TMPFS_DIR) besides the disk run
#   --what-if-index  also measure throughput with a partial index jobs(created_at) WHERE
#                    status = 'queued' added to the benchmark database (migration 0002 now ships the same index)
#   --quick          200 latency jobs and 1,000 queued jobs (a smoke run, ~10 s)
#   BENCH_ARGS       passed to the example, e.g. -- --workers 4 --threads 1,2,4 --spacing-ms 5
#
# Builds the example `bench_jobs` (backend/examples/bench_jobs.rs) in release mode and runs it
# in a fresh temp directory under $BENCH_DIR (default /var/tmp: a disk, so fsync is real), then
# optionally under tmpfs; the example opens its databases with the server's `Db::open` (WAL,
# synchronous=FULL) and uses `jobs::store::enqueue` / `jobs::store::claim` like the server.
# Prints the example's report, then a table. Temp directories are removed on exit. Exits
# non-zero when the build or a run fails (e.g. jobs not claimed, a job claimed twice).
# A full run takes ~8 min per medium on 2 cores: claiming from 10,000 queued jobs costs ~6 ms a
# claim before migration 0002's index, ~0.4 ms with it), and the naive baseline with 4 threads alone takes minutes.
#
# env: BENCH_DIR (/var/tmp), TMPFS_DIR (/dev/shm), BENCH_JOBS_BIN (use this binary, skip the
#      build), CARGO_TARGET_DIR (honoured by the build). See docs/benchmarks.md, "Job queue".
set -euo pipefail

BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp}
TMPFS_DIR=${TMPFS_DIR:-/dev/shm}

die() { echo "bench-jobs: $*" >&2; exit 1; }
log() { echo "bench-jobs: $*" >&2; }
fstype() { findmnt -n -o FSTYPE -T "$1" 2>/dev/null || stat -f -c %T "$1" 2>/dev/null || echo '?'; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

TMPFS=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --tmpfs) TMPFS=1 ;;
    --what-if-index) EXTRA+=(--what-if-index) ;;
    --quick) EXTRA+=(--latency-jobs 200 --queue 1000) ;;
    --) shift; EXTRA+=("$@"); break ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done

WORK_DIRS=()
cleanup() {
  local d
  for d in "${WORK_DIRS[@]}"; do
    [ -n "$d" ] && rm -rf -- "$d"
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Builds the example (unless BENCH_JOBS_BIN is set) and sets BENCH_JOBS_BIN.
build() {
  if [ -n "${BENCH_JOBS_BIN:-}" ]; then
    [ -x "$BENCH_JOBS_BIN" ] || die "BENCH_JOBS_BIN=$BENCH_JOBS_BIN is not executable"
    return
  fi
  command -v cargo >/dev/null || die "cargo not found"
  log "building the bench_jobs example (release)"
  (cd "$BENCH_REPO" && cargo build --release --quiet --example bench_jobs -p pressluft-backend) \
    || die "cargo build --release --example bench_jobs -p pressluft-backend failed"
  local tdir
  tdir=$(cd "$BENCH_REPO" && cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  [ -n "$tdir" ] || die "cannot find cargo's target directory"
  BENCH_JOBS_BIN="$tdir/release/examples/bench_jobs"
  [ -x "$BENCH_JOBS_BIN" ] || die "built example not found at $BENCH_JOBS_BIN"
}

# run NAME BASE: runs the example in a fresh directory under BASE; RESULT lines go to $OUT/NAME.
run() {
  local name=$1 base=$2 dir fs
  if [ ! -d "$base" ] || [ ! -w "$base" ]; then die "$base is not a writable directory"; fi
  dir=$(mktemp -d "$base/pressluft-bench-jobs.XXXXXX") || die "mktemp in $base failed"
  WORK_DIRS+=("$dir")
  fs=$(fstype "$dir")
  log "run '$name' in $dir ($fs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "== $name: $base ($fs) =="
  "$BENCH_JOBS_BIN" --dir "$dir" "${EXTRA[@]}" | tee "$OUT/$name.log" \
    || die "bench_jobs failed on $base"
  grep '^RESULT ' "$OUT/$name.log" | sed 's/^RESULT //' | tr ' ' '\n' | grep '=' >"$OUT/$name" \
    || die "no results from the run on $base"
  echo
}

# get NAME KEY: a value from run NAME, or '-'.
get() {
  local v
  v=$(sed -n "s/^$2=//p" "$OUT/$1" | tail -n1)
  echo "${v:--}"
}

# cell NAME KIND [KEY]: one table cell of run NAME.
cell() {
  local n=$1 k=${3:-}
  case $2 in
    lat) echo "$(get "$n" latency_p50_ms) / $(get "$n" latency_p99_ms) / $(get "$n" latency_max_ms)" ;;
    enq) echo "$(get "$n" enqueue_tx_p50_ms) / $(get "$n" enqueue_tx_p99_ms)" ;;
    claim) echo "$(get "$n" "${k}_per_s") (p99 $(get "$n" "${k}_p99_ms") ms; $(get "$n" "${k}_errors") failed)" ;;
    naive) echo "$(get "$n" "${k}_per_s") (p99 $(get "$n" "${k}_p99_ms") ms; $(get "$n" "${k}_busy") BUSY)" ;;
    ratio) echo "$(get "$n" "$k")x" ;;
  esac
}

# row LABEL KIND [KEY]: one table row over all runs in NAMES.
row() {
  local label=$1 n
  shift
  printf '| %-58s |' "$label"
  for n in "${NAMES[@]}"; do printf ' %-34s |' "$(cell "$n" "$@")"; done
  echo
}

table() {
  local first=${NAMES[0]} n t tag label threads
  printf '| %-58s |' "metric"
  for n in "${NAMES[@]}"; do printf ' %-34s |' "$n ($(get "$n" fs))"; done
  printf '\n|%s|' "$(printf -- '-%.0s' {1..60})"
  for n in "${NAMES[@]}"; do printf '%s|' "$(printf -- '-%.0s' {1..36})"; done
  echo
  row "enqueue->running ms p50 / p99 / max ($(get "$first" latency_jobs) jobs, $(get "$first" latency_workers) workers)" lat
  row "enqueue transaction ms p50 / p99" enq
  threads=$(sed -n 's/^\(claim\|naive\)\(_idx\)\{0,1\}_t\([0-9]*\)_per_s=.*/\3/p' "$OUT/$first" | sort -nu)
  for tag in "" _idx; do
    label=""
    [ -n "$tag" ] && label=", + partial index"
    for t in $threads; do
      [ "$(get "$first" "claim${tag}_t${t}_per_s")" != - ] \
        && row "claim, $t thread(s): claims/s$label" claim "claim${tag}_t${t}"
      [ "$(get "$first" "naive${tag}_t${t}_per_s")" != - ] \
        && row "naive SELECT+UPDATE, $t thread(s): claims/s$label" naive "naive${tag}_t${t}"
      [ "$(get "$first" "ratio${tag}_t${t}")" != - ] \
        && row "claim / naive, $t thread(s)$label" ratio "ratio${tag}_t${t}"
    done
  done
  return 0
}

build
OUT=$(mktemp -d "${TMPDIR:-/tmp}/pressluft-bench-jobs-out.XXXXXX") || die "mktemp failed"
WORK_DIRS+=("$OUT")
NAMES=(disk)
run disk "$BENCH_DIR"
echo "fs=$(fstype "$BENCH_DIR")" >>"$OUT/disk"
if [ "$TMPFS" = 1 ]; then
  NAMES+=(tmpfs)
  run tmpfs "$TMPFS_DIR"
  echo "fs=$(fstype "$TMPFS_DIR")" >>"$OUT/tmpfs"
fi
echo "== summary (sqlite $(get disk sqlite), load average $(cut -d' ' -f1-3 /proc/loadavg)) =="
table
