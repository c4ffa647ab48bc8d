#!/usr/bin/env bash
# Runs every benchmark and writes one markdown summary to bench/results/. Expects a Release build
# (./run.sh bench builds first). About 40 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")"
source ./lib.sh

for f in "$WORKER_DLL" "$TESTBED_DLL"; do
  [ -f "$f" ] || { echo "missing $f: build first (dotnet build worker.sln -c Release)" >&2; exit 1; }
done
command -v ffmpeg >/dev/null && [ -x /usr/bin/time ] || { echo "needs ffmpeg and /usr/bin/time (apt-get install -y ffmpeg time)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "needs redis-server (apt-get install -y redis-server)" >&2; exit 1; }

mkdir -p results
OUT="results/$(date +%Y-%m-%d-%H%M)-$(hostname -s).md"
{
  echo "# MixerWorker bench, $(date '+%Y-%m-%d %H:%M %Z')"
  echo
  echo "- Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/ { printf "%.1f GiB", $2/1048576 }' /proc/meminfo) RAM, $(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r)"
  echo "- GStreamer $(gst-launch-1.0 --version | awk '/GStreamer/ { print $2; exit }'), $(ffmpeg -version | head -1 | cut -d' ' -f1-3), .NET $(dotnet --version)"
  echo "- Worker: Release build of commit $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- src || echo ' (+ uncommitted changes in src/)')"
  echo "- Rerun: \`./run.sh bench\` (or \`bench/run-all.sh\` after a Release build)"
  echo
} >"$OUT"

start=$(date +%s)
./mix-cost.sh "$OUT"
./latency.sh "$OUT"
./first-frame.sh "$OUT"
./multiview-cost.sh "$OUT"
./thumbnail-cost.sh "$OUT"
./card-cost.sh "$OUT"
./command-latency.sh "$OUT"
./fleet-cost.sh "$OUT"
./fleet-handover.sh "$OUT"
PLOT="${OUT%.md}-compare.png" ./compare.sh "$OUT"
echo "Total bench time: $(( $(date +%s) - start )) s." | tee -a "$OUT"
echo "results: bench/$OUT"
