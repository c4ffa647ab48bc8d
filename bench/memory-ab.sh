#!/usr/bin/env bash
# Peak memory of worker builds and runtime settings side by side, in alternating order, on one set of four feeds (as
# compare.sh publishes them): peak RSS (VmHWM), its anonymous and file-backed parts, threads, process CPU, and where the
# resident memory is by mapping (bench/smaps-groups.awk on /proc/PID/smaps at the end of the run), a row per run.
# Usage: bench/memory-ab.sh OUTDIR SCENE NAME=WORKER_DLL|NAME=AOT_EXECUTABLE|NAME=cmd:FILE ...
#   SCENE: e.g. the scene.json that `bench/compare.sh --profile 8bus-360p worker DIR` writes into DIR.
#   cmd:FILE runs the command line in FILE instead of a worker (e.g. the job's hand gst-launch graph or ffmpeg).
# env: ORDER (names in run order, default "before after after before before after"), WARMUP_S=9, MEASURE_S=15,
#      FEED=640x360, ENV_<NAME>="K=V ..." (environment of one variant only, e.g. ENV_after="DOTNET_gcConcurrent=0"),
#      SAMPLE_MS=0 (every that many ms: seconds since the start, VmRSS, VmHWM, RssAnon, RssFile in MB into N-NAME.rss,
#      and a copy of smaps each time the peak grew by 1 MB or more, N-NAME.peak.smaps: is the peak a start-up spike or
#      the steady state, and which mappings make it).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
out=$1 scene=$2; shift 2; mkdir -p "$out"
declare -A RUN; for a in "$@"; do RUN[${a%%=*}]=${a#*=}; done
WARMUP_S=${WARMUP_S:-9} MEASURE_S=${MEASURE_S:-15} FEED=${FEED:-640x360}
ORDER=${ORDER:-"before after after before before after"}
runs=$(wc -w <<<"$ORDER")
life=$(( runs * (WARMUP_S + MEASURE_S + 6) + 30 ))
trap 'stop_helpers' EXIT
start_four_feeds "$out" "$life" "$FEED"
printf '| run | variant | process CPU %% | peak RSS MB | RssAnon MB | RssFile MB | threads |\n|---|---|---|---|---|---|---|\n' >"$out/table.md"
# Samples the memory of process $1 into $2.rss, and keeps its smaps from the latest peak, until killed or the process ends.
sample_memory() {
  local t0 kept=0 hwm
  t0=$(date +%s.%N)
  while [ -r "/proc/$1/status" ]; do
    hwm=$(awk -v t0="$t0" -v now="$(date +%s.%N)" -v to="$2.rss" '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } /^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 }
      END { if (!h) exit 1; printf "%.2f %.1f %.1f %.1f %.1f\n", now - t0, r / 1024, h / 1024, a / 1024, f / 1024 >> to; print h }' \
      "/proc/$1/status" 2>/dev/null) || break
    if [ "${hwm:-0}" -ge $((kept + 1024)) ]; then cp "/proc/$1/smaps" "$2.peak.smaps" 2>/dev/null && kept=$hwm; fi
    sleep "$(awk -v m="$SAMPLE_MS" 'BEGIN { print m / 1000 }')"
  done
}
i=0
for name in $ORDER; do
  i=$((i + 1))
  what=${RUN[$name]} envvar="ENV_$name"
  # shellcheck disable=SC2086 # the variant's environment is a list of K=V words on purpose
  if [[ $what == cmd:* ]]; then env ${!envvar:-} bash -c "exec $(cat "${what#cmd:}")" >"$out/$i-$name.log" 2>&1 &
  else env ${!envvar:-} $(worker_launcher "$what") "$what" run "$scene" --duration $((WARMUP_S + MEASURE_S + 20)) >"$out/$i-$name.log" 2>&1 &
  fi
  mpid=$!
  spid=""; [ "${SAMPLE_MS:-0}" -gt 0 ] && { sample_memory "$mpid" "$out/$i-$name" & spid=$!; }
  sleep "$WARMUP_S"
  c0=$(cpu_ticks "$mpid"); w0=$(date +%s.%N)
  sleep "$MEASURE_S"
  c1=$(cpu_ticks "$mpid"); w1=$(date +%s.%N)
  cp "/proc/$mpid/smaps" "$out/$i-$name.smaps"; cp "/proc/$mpid/status" "$out/$i-$name.status"
  [ -n "$spid" ] && { kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true; }
  kill -TERM "$mpid" 2>/dev/null || true; wait "$mpid" 2>/dev/null || true
  awk -f "$BENCH_DIR/smaps-groups.awk" "$out/$i-$name.smaps" >"$out/$i-$name.groups"
  [ -f "$out/$i-$name.peak.smaps" ] && awk -f "$BENCH_DIR/smaps-groups.awk" "$out/$i-$name.peak.smaps" >"$out/$i-$name.peak.groups"
  awk -v run="$i" -v name="$name" -v cpu="$(awk -v c=$((c1 - c0)) -v k="$CLK_TCK" -v a="$w0" -v b="$w1" 'BEGIN { printf "%.1f", 100 * c / k / (b - a) }')" '
    /^VmHWM:/ { hwm = $2 } /^RssAnon:/ { an = $2 } /^RssFile:/ { fi = $2 } /^Threads:/ { th = $2 }
    END { printf "| %d | %s | %s | %d | %d | %d | %d |\n", run, name, cpu, hwm / 1024, an / 1024, fi / 1024, th }' \
    "$out/$i-$name.status" | tee -a "$out/table.md"
  sleep 2
done
echo "table: $out/table.md; by mapping: $out/N-NAME.groups" >&2
