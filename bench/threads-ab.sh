#!/usr/bin/env bash
# Builds of the worker side by side, in alternating order, on one set of four 640x360 feeds (as compare.sh's
# 8bus-360p job publishes them): process CPU and CPU per thread group (schedstat over MEASURE_S after WARMUP_S),
# peak RSS, one table row per run, for cuts too small to show in the process figure (it drifts ±10 % between runs here).
# Usage: bench/threads-ab.sh OUTDIR SCENE NAME=WORKER_DLL NAME=WORKER_DLL ...
#   SCENE: e.g. the scene.json that `bench/compare.sh --profile 8bus-360p worker DIR` writes into DIR.
# env: ORDER (names in run order, default "before after after before before after"), WARMUP_S=9, MEASURE_S=15
# Groups, % of one core: audiomixer = the buses' mixer threads (mix, limiter, meter, Opus); audio sum = those, the live
# silence sources and the abox queues; bus reader, control = the .NET bus-message and control threads; .NET = the
# runtime's own threads (thread pool, timer, tiered compilation); scalers = the shared scalers' threads (crop, scale,
# colour) of the four inputs; libsrt = libsrt's own threads (SRT:SndQ/RcvQ per multiplexer, SRT:TsbPd per input, SRT:GC),
# libsrt threads = how many of them; compositor = the buses' compositor threads, which encode too (runs/s: schedstat's
# count of times they were put on a CPU, wake-ups and preemptions). A NAME may name a NativeAOT executable (publish_worker).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
out=$1 scene=$2; shift 2; mkdir -p "$out"
declare -A DLL; for a in "$@"; do DLL[${a%%=*}]=${a#*=}; done
WARMUP_S=${WARMUP_S:-9} MEASURE_S=${MEASURE_S:-15}
ORDER=${ORDER:-"before after after before before after"}
runs=$(wc -w <<<"$ORDER")
life=$(( runs * (WARMUP_S + MEASURE_S + 6) + 30 ))
trap 'stop_helpers' EXIT
start_four_feeds "$out" "$life" 640x360
printf '| run | build | process | compositor (runs/s) | audiomixer | audio sum | silence | abox | bus reader | control | .NET | mux | encoders | scalers | libsrt | libsrt threads | threads | peak RSS MB |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n' >"$out/table.md"
i=0
for name in $ORDER; do
  i=$((i + 1))
  $(worker_launcher "${DLL[$name]}") "${DLL[$name]}" run "$scene" --duration $((WARMUP_S + MEASURE_S + 20)) >"$out/$i-$name.log" 2>&1 &
  mpid=$!
  sleep "$WARMUP_S"
  thread_times "$mpid" >"$out/$i.t0"; c0=$(cpu_ticks "$mpid"); w0=$(date +%s.%N)
  sleep "$MEASURE_S"
  thread_times "$mpid" >"$out/$i.t1"; c1=$(cpu_ticks "$mpid"); w1=$(date +%s.%N)
  th=$(awk '/^Threads:/ { print $2 }' "/proc/$mpid/status"); rss=$(vm_hwm_kb "$mpid")
  kill -TERM "$mpid" 2>/dev/null || true; wait "$mpid" 2>/dev/null || true
  awk -v run="$i" -v name="$name" -v th="$th" -v rss="$((rss / 1024))" -v w="$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" \
      -v total="$(awk -v c=$((c1 - c0)) -v k="$CLK_TCK" -v a="$w0" -v b="$w1" 'BEGIN { printf "%.1f", 100 * c / k / (b - a) }')" '
    NR == FNR { start[$1] = $2; runs0[$1] = $5; next }
    { d = $2 - ($1 in start ? start[$1] : 0); n = $3; g = "other";
      if (n ~ /compos|^bus\.program\.com/) { g = "compositor"; cruns += $5 - ($1 in runs0 ? runs0[$1] : 0) }
      else if (n ~ /audiom|^bus\.program\.(aud|sou)/) g = "audiomixer"; else if (n ~ /silenc|^bus\.program\.sil/) g = "silence";
      else if (n ~ /^abox\./) g = "abox"; else if (n ~ /^SRT:/) { g = "libsrt"; nsrt++ } else if (n ~ /^bus:/) g = "busreader"; else if (n ~ /^control:/) g = "control"; else if (n ~ /^\.NET/) g = "runtime";
      else if (n ~ /mux/) g = "mux"; else if (n ~ /encque|\.enc$|program\.enc/) g = "encoders"; else if (n ~ /^scale\./) g = "scale";
      s[g] += d }
    END { a = s["audiomixer"] + s["silence"] + s["abox"];
          printf "| %d | %s | %s | %.1f (%.0f) | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %.1f | %.2f | %.2f | %d | %s | %s |\n", run, name, total,
            100 * s["compositor"] / 1e9 / w, cruns / w, 100 * s["audiomixer"] / 1e9 / w, 100 * a / 1e9 / w, 100 * s["silence"] / 1e9 / w, 100 * s["abox"] / 1e9 / w,
            100 * s["busreader"] / 1e9 / w, 100 * s["control"] / 1e9 / w, 100 * s["runtime"] / 1e9 / w, 100 * s["mux"] / 1e9 / w, 100 * s["encoders"] / 1e9 / w, 100 * s["scale"] / 1e9 / w, 100 * s["libsrt"] / 1e9 / w, nsrt, th, rss }' \
    "$out/$i.t0" "$out/$i.t1" | tee -a "$out/table.md"
  sleep 2
done
echo "table: $out/table.md" >&2
