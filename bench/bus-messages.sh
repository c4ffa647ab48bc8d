#!/usr/bin/env bash
# Messages posted on the pipeline's bus, per second and by type, and how many of them entered the bus's own queue,
# for builds of the worker side by side on one set of four 640x360 feeds (as compare.sh's 8bus-360p job publishes them).
# Read from GStreamer's GST_BUS debug log (level 5: "posting on bus", then "pushing on async queue" or "dropped"), which
# the worker routes into its own log: the same count for any build, whatever it does with its messages. The log costs
# CPU, so these runs say nothing about CPU.
# Usage: bench/bus-messages.sh OUTDIR SCENE NAME=WORKER_DLL NAME=WORKER_DLL ...
#   SCENE: e.g. the 8bus-360p scene: JOBS=8bus-360p:640x360:640x360:7:640x360 bench/compare.sh --print | grep '^{"project"'
# env: ORDER (names in run order, default "before after"), WARMUP_S=9, MEASURE_S=15, STARVE (a share of one core, e.g.
#   0.5: from the end of the warm-up the worker runs under that CPU quota, in a cgroup v1 `cpu` group of its own, as
#   CpuStarvation starves it in the tests; needs a writable /sys/fs/cgroup/cpu)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
out=$1 scene=$2; shift 2; mkdir -p "$out"
declare -A DLL; for a in "$@"; do DLL[${a%%=*}]=${a#*=}; done
WARMUP_S=${WARMUP_S:-9} MEASURE_S=${MEASURE_S:-15}
ORDER=${ORDER:-"before after"}
runs=$(wc -w <<<"$ORDER")
life=$(( runs * (WARMUP_S + MEASURE_S + 6) + 30 ))
trap 'stop_helpers' EXIT
start_four_feeds "$out" "$life" 640x360
i=0
for name in $ORDER; do
  i=$((i + 1))
  log="$out/$i-$name.log"
  GST_DEBUG=GST_BUS:5 $(worker_launcher "${DLL[$name]}") "${DLL[$name]}" run "$scene" --duration $((WARMUP_S + MEASURE_S + 20)) >"$log" 2>&1 &
  mpid=$!
  sleep "$WARMUP_S"
  cg=""
  if [ -n "${STARVE:-}" ]; then
    cg=/sys/fs/cgroup/cpu/mixerworker-bus-messages-$mpid; mkdir "$cg"
    echo 20000 >"$cg/cpu.cfs_period_us"; awk -v s="$STARVE" 'BEGIN { printf "%d\n", s * 20000 }' >"$cg/cpu.cfs_quota_us"
    echo "$mpid" >"$cg/cgroup.procs"
  fi
  t0=$(date +%H:%M:%S.%N); sleep "$MEASURE_S"; t1=$(date +%H:%M:%S.%N)
  if [ -n "$cg" ]; then echo "$mpid" >/sys/fs/cgroup/cpu/cgroup.procs; rmdir "$cg"; fi
  kill -TERM "$mpid" 2>/dev/null || true; wait "$mpid" 2>/dev/null || true
  # Lines start with the log's HH:MM:SS.fff; a message's lines are tied together by its address ([msg 0x...]). An
  # element's message is posted on its bin's internal bus, then on each bin's above it, and last on the pipeline's:
  # only that one counts, the bus on which the pipeline posts its own first state change (pipeline0's).
  # Sources are named by their element's kind (in.cam-a.level → in.*.level), numbers as N.
  awk -v t0="$t0" -v t1="$t1" -v w="$MEASURE_S" -v run="$i" -v build="$name" -v starve="${STARVE:-}" '
    function secs(t,  p) { split(t, p, ":"); return p[1] * 3600 + p[2] * 60 + p[3] }
    BEGIN { s0 = secs(t0); s1 = secs(t1) }
    NR == FNR { if (bus == "" && / posting on bus state-changed message: .* element \x27pipeline0\x27/) bus = $5; next }
    $5 != bus { next }
    { t = secs($1); if (t < s0 || t >= s1) next }
    / posting on bus / {
      match($0, /\[msg 0x[0-9a-f]+\]/); id = substr($0, RSTART, RLENGTH)
      match($0, /posting on bus [a-z-]+ message/); type = substr($0, RSTART + 15, RLENGTH - 23)
      src = "?"; if (match($0, /(element|pad|object) \x27[^\x27]*\x27/)) { src = substr($0, RSTART, RLENGTH); sub(/^[a-z]+ /, "", src); gsub(/\x27/, "", src) }
      n = split(src, parts, "."); if (n > 2 && parts[1] ~ /^(in|bus|src|box|abox|out|gfx|veil|scale)$/) { parts[2] = "*"; src = parts[1]; for (k = 2; k <= n; k++) src = src "." parts[k] }
      gsub(/\.[0-9]+/, ".N", src)
      kind[id] = type; posted[type]++; from[type " " src]++; all++; next }
    / pushing on async queue/ { match($0, /\[msg 0x[0-9a-f]+\]/); id = substr($0, RSTART, RLENGTH); if (id in kind) { queued[kind[id]]++; q++ } next }
    END {
      printf "run %d, %s%s: pipeline bus %s %.1f messages/s posted, %.1f/s queued\n", run, build, starve == "" ? "" : " (" starve " of a core)", bus, all / w, q / w
      for (k in posted) printf "  %-16s %8.1f/s posted %8.1f/s queued\n", k, posted[k] / w, queued[k] / w | "sort -k2 -rn"; close("sort -k2 -rn")
      for (k in from) if (from[k] / w >= 0.1) printf "    %-50s %8.1f/s\n", k, from[k] / w | "sort -k3 -rn"; close("sort -k3 -rn") }' "$log" "$log" | tee -a "$out/counts.txt"
  sleep 2
done
echo "counts: $out/counts.txt" >&2
