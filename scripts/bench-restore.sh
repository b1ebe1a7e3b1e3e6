#!/usr/bin/env bash
# bench-restore.sh — restore throughput of `pressluft-artifact unpack --sha256 --size` (verify
# and extract in one pass) against `sha256sum -c` followed by `zstd -dc | tar -x`.
#
# usage: scripts/bench-restore.sh [--help] [SIZES...]        (default: 200M 1G)
#
# For each SIZE: builds pressluft-artifact (release), generates and arranges the same corpus as
# scripts/bench-backup.sh (make-corpus.sh in a tmpfs), packs it once with
# `pressluft-artifact pack --scope full` ($PACK_ARGS), then measures, interleaved, best of $RUNS
# (default 3), each run into a fresh staging dir (removed between runs, not timed):
#   ours    pressluft-artifact unpack --artifact A --dest NEW --expect-site bench --sha256 H --size N
#   shell   sha256sum -c A.sha256 && zstd -dc A | tar -xf - -C NEW
# Wall time and peak RSS from /usr/bin/time -v; CPU = user+sys seconds.
# Target: ours <= 0.45 x shell.
#
# env: same as scripts/bench-backup.sh (WP_SRC, MAKE_CORPUS, RUNS, PACK_ARGS, ARTIFACT_BIN,
#      BENCH_WORK, CARGO_TARGET_DIR). See docs/benchmarks.md.
set -euo pipefail

# Shared helpers (tool checks, build, tmpfs, corpus, timing) live in bench-backup.sh.
BENCH_LIB_ONLY=1
# shellcheck source=bench-backup.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-backup.sh"
unset BENCH_LIB_ONLY

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

bench_restore_main() {
  case "${1:-}" in -h|--help) usage; exit 0 ;; esac
  local sizes=("$@")
  [ ${#sizes[@]} -gt 0 ] || sizes=(200M 1G)
  local s total=0
  for s in "${sizes[@]}"; do
    [[ $s =~ ^[0-9]+(\.[0-9]+)?[KMGkmg]?$ ]] || die "bad size $s (e.g. 200M, 1G)"
    total=$((total + $(size_bytes "$s")))
  done
  check_tools
  build_artifact
  # per size: corpus + artifact + two extracted copies, plus slack
  setup_work $((total * 4 + (1 << 30)))
  trap cleanup_work EXIT
  trap 'exit 130' INT TERM
  : >"$WORK/results"
  echo "$(date -u +%FT%TZ) pressluft-artifact on $(nproc) CPUs; zstd $(zstd -V | grep -o 'v[0-9.]*'); $(tar --version | head -1); runs=$RUNS; PACK_ARGS='${PACK_ARGS:-}'"
  local table=()
  for s in "${sizes[@]}"; do
    local root art sha size i
    root=$(corpus "$s")
    art="$WORK/restore-$s.tar.zst"
    rm -f "$art"
    # shellcheck disable=SC2086
    "$ARTIFACT_BIN" pack --scope full --site-id bench --environment-id bench --backup-id r \
      --env-root "$root/env" --db-dump "$root/db.sql" --out "$art" ${PACK_ARGS:-} >"$WORK/pack.json" \
      || { cat "$WORK/pack.json" >&2; die "pack failed"; }
    read -r sha size < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["sha256"], d["size_bytes"])' "$WORK/pack.json")
    (cd "$WORK" && echo "$sha  $(basename "$art")" >"$art.sha256")
    log "$s: artifact $size bytes; load before: $(loadavg)"
    for i in $(seq 1 "$RUNS"); do
      rm -rf "$WORK/stage-ours" "$WORK/stage-shell"
      timed "ours-$s" "$ARTIFACT_BIN" unpack --artifact "$art" --dest "$WORK/stage-ours" \
        --expect-site bench --sha256 "$sha" --size "$size"
      python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"], d' "$WORK/last.out"
      mkdir "$WORK/stage-shell"
      timed "shell-$s" bash -c 'set -o pipefail; cd "$1" && sha256sum --quiet -c "$2" && zstd -dc -q "$3" | tar -xf - -C "$4"' \
        _ "$WORK" "$art.sha256" "$art" "$WORK/stage-shell"
    done
    # same content on both sides (regular files and bytes)
    local ours_n shell_n
    ours_n=$(find "$WORK/stage-ours/files" "$WORK/stage-ours/database.sql" -type f | wc -l)
    shell_n=$(find "$WORK/stage-shell/files" "$WORK/stage-shell/database.sql" -type f | wc -l)
    [ "$ours_n" = "$shell_n" ] || die "$s: ours extracted $ours_n files, the shell $shell_n"
    rm -rf "$WORK/stage-ours" "$WORK/stage-shell" "$art" "$art.sha256"
    log "$s: load after: $(loadavg)"
    table+=("$s $size | $(summarize "ours-$s") | $(summarize "shell-$s") | $(loadavg)")
  done
  python3 - "${table[@]}" <<'PY'
import sys
ok_all = True
print()
print('restore (best of runs; wall s [range], CPU s = user+sys, peak RSS MB)')
print(f'{"size":>5} {"artifact MB":>11} | {"ours wall":>9} {"range":>11} {"cpu":>5} {"rss":>4} | {"shell wall":>10} {"range":>11} {"cpu":>5} | ratio')
for r in sys.argv[1:]:
    head, ours, shell, load = [p.strip() for p in r.split('|')]
    size, asz = head.split()
    ow, orng, oc, orss = ours.split(); sw, srng, sc, _ = shell.split()
    ratio = float(ow) / float(sw); ok = ratio <= 0.45; ok_all &= ok
    print(f'{size:>5} {int(asz)/2**20:>11.0f} | {ow:>9} {orng:>11} {oc:>5} {orss:>4} | {sw:>10} {srng:>11} {sc:>5} | {ratio:.2f} {"PASS" if ok else "MISS"} (target <= 0.45)   (load after: {load})')
print('overall:', 'PASS' if ok_all else 'MISS (see above)')
PY
}

bench_restore_main "$@"
