#!/usr/bin/env bash
# One entry point for people and CI. Every command installs what it needs on a fresh Debian 12
# machine that has the .NET SDK, and can be run again without harm.
#   ./run.sh demo    run the engine on a scripted show; artefacts land in artifacts/demo/
#                    (--hold SECONDS keeps it on air afterwards; it prints where the dashboard is)
#   ./run.sh test    build and run every test suite
#   ./run.sh bench   run the benchmarks in bench/ (slow; prints ratios against baselines)
#   ./run.sh bench NAME [ARGS]   run one of them, bench/NAME.sh (e.g. compare, latency, first-frame)
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the engine, the tests and the demo need at run time. GStreamer 1.22 from
# bookworm; libsrt comes with plugins-bad and is also bound directly by the engine's SRT input
# reader and by the MediaMTX stand-in.
APT_PACKAGES=(
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-x libsrt1.5-gnutls redis-server curl
  chromium  # the dashboard's browser test (Playwright drives /usr/bin/chromium; it downloads no browser)
)

ensure_packages() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() { dotnet build worker.sln -c Release -nologo -v q "$@"; }

run_tests() {
  ensure_packages
  build
  local log project rc=0; log=$(mktemp)
  set +e
  # One test project after the other: two live-media projects side by side on two cores miss each
  # other's frame deadlines, and what fails then is the machine, not the code.
  for project in tests/*.Tests; do
    # A hung test host is killed and reported instead of stalling the run.
    dotnet test "$project" -c Release --no-build -nologo --logger "console;verbosity=normal" \
      --blame-hang-timeout 5m --blame-hang-dump-type none "$@" 2>&1 | tee -a "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
  done
  set -e
  # dotnet test prints one summary per project; add them up into the one line CI reads.
  awk '/^Total tests:/ { counting = 1 }
       counting && $1 == "Passed:"  { p += $2 }
       counting && $1 == "Failed:"  { f += $2 }
       counting && $1 == "Skipped:" { s += $2 }
       /Total time:/ { counting = 0 }
       END { printf "Tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
  # CI keeps only the end of the output: say again which tests failed and why, without their logs.
  awk '/^  Failed / { shown = 0; block = 1; print "FAILED:" substr($0, 9); next }
       block && /^  (Stack Trace|Standard Output Messages):/ { block = 0 }
       block && /^  (Passed|Skipped) / { block = 0 }
       block && shown < 8 { print "    " $0; shown++ }' "$log"
  rm -f "$log"
  return "$rc"
}

case "${1:-}" in
  test)  shift; run_tests "$@" ;;
  demo)  shift; ensure_packages; build; dotnet tests/MixerWorker.Testbed/bin/Release/net10.0/MixerWorker.Testbed.dll demo "$@" ;;
  bench) shift; ensure_packages ffmpeg time gnuplot-nox; build
         if [ $# -gt 0 ] && [ -f "bench/$1.sh" ]; then name=$1; shift; "bench/$name.sh" "$@"; else bench/run-all.sh "$@"; fi ;;
  build) shift; ensure_packages; build "$@" ;;
  *) echo "usage: $0 demo|test|bench|build" >&2; exit 2 ;;
esac
