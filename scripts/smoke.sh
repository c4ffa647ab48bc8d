#!/bin/sh
# End-to-end smoke test of the compose stack. NEEDS A MACHINE WITH DOCKER ENGINE AND COMPOSE V2; it
# cannot run in the development sandbox (docker client only) and exits 3 there. Everything that can
# be checked without Docker is covered by tests/MixerWorker.Deploy.Tests.
#
# It builds and starts the stack under a throw-away project name with random passphrases and a stub
# platform API, publishes a 10-second test feed over SRT to ingest/smoke/cam1 with a token in the
# streamid query, and asserts that
#   1. MediaMTX's auth callback received that token in "query" (action publish, protocol srt),
#   2. the events hook posted INGEST_ONLINE and, after the feed ended, INGEST_OFFLINE (protocol srt),
#   3. no passphrase appears in any container log.
# Usage: scripts/smoke.sh [--keep]   (--keep leaves the stack running for inspection)
set -eu
cd "$(dirname "$0")/.."

docker=${DOCKER:-docker}
fail() { printf 'smoke: FAIL: %s\n' "$*" >&2; exit 1; }
need_docker() {
  printf 'smoke: %s\nsmoke: scripts/smoke.sh needs Docker Engine with the compose v2 plugin; run it on a Docker host. Checks that need no Docker: dotnet test tests/MixerWorker.Deploy.Tests\n' "$*" >&2
  exit 3
}
command -v "$docker" >/dev/null 2>&1 || need_docker "no docker client on PATH"
"$docker" info >/dev/null 2>&1 || need_docker "docker client found, but no Docker engine answers (docker info failed)"
"$docker" compose version >/dev/null 2>&1 || need_docker "the docker compose v2 plugin is missing"

keep=no
[ "${1:-}" = "--keep" ] && keep=yes

project="mixer-smoke-$$"
work=$(mktemp -d)
token="smoke-token-$$"
ingest_pass=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
output_pass=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
umask 077
printf 'INGEST_SRT_PASSPHRASE=%s\nOUTPUT_SRT_PASSPHRASE=%s\n' "$ingest_pass" "$output_pass" > "$work/mediamtx.env"
printf 'REDIS__CONFIGURATION=redis:6379,abortConnect=false\nMEDIAMTX__TOKEN=%s\nLOGGING__FORMAT=text\nSHUTDOWN__GRACESECONDS=5\n' "$token" > "$work/worker.env"

export MEDIAMTX_ENV_FILE="$work/mediamtx.env" WORKER_ENV_FILE="$work/worker.env" MEDIA_NETWORK="$project-media"
compose() { "$docker" compose -p "$project" -f docker-compose.yml -f scripts/smoke/docker-compose.smoke.yml "$@"; }

cleanup() {
  if [ "$keep" = yes ]; then
    printf 'smoke: stack left running: docker compose -p %s ... down -v\n' "$project" >&2
  else
    compose down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "smoke: building and starting the stack ($project)"
compose up -d --build --wait --wait-timeout 300 || { compose ps; compose logs --tail 50; fail "stack did not become healthy"; }

echo "smoke: publishing a test feed over SRT to ingest/smoke/cam1"
# The worker image has GStreamer with x264 and SRT, so it doubles as the test encoder.
compose run --rm --no-deps --entrypoint gst-launch-1.0 worker -q \
  videotestsrc is-live=true num-buffers=250 ! video/x-raw,width=640,height=360,framerate=25/1 \
  ! x264enc tune=zerolatency key-int-max=25 bitrate=800 ! h264parse ! mpegtsmux \
  ! srtsink uri=srt://mediamtx:8000 "streamid=publish:ingest/smoke/cam1:token=$token" \
    "passphrase=$ingest_pass" latency=120 \
  || fail "the SRT publisher failed (see the GStreamer output above)"

# The offline event follows the publisher's disconnect; give the hook a moment.
api_log() { compose logs --no-log-prefix api 2>/dev/null; }
waited=0
until api_log | grep -q '"event": "INGEST_OFFLINE"' || [ $waited -ge 20 ]; do sleep 1; waited=$((waited + 1)); done
api_log > "$work/api.log"

grep '"path": "/internal/mediamtx/auth"' "$work/api.log" \
  | grep '"action": "publish"' | grep '"protocol": "srt"' | grep '"path": "ingest/smoke/cam1"' \
  | grep -q "\"query\": \"token=$token\"" \
  || { cat "$work/api.log" >&2; fail "no auth callback with action publish, protocol srt and query token=<token>"; }
echo "smoke: ok: auth callback carried the token in query"

for event in INGEST_ONLINE INGEST_OFFLINE; do
  grep '"path": "/internal/mediamtx/events"' "$work/api.log" \
    | grep -q "{\"event\": \"$event\", \"project\": \"smoke\", \"name\": \"cam1\", \"protocol\": \"srt\"}" \
    || { cat "$work/api.log" >&2; fail "no $event event for ingest/smoke/cam1"; }
  echo "smoke: ok: $event posted"
done

if compose logs 2>/dev/null | grep -q -e "$ingest_pass" -e "$output_pass"; then
  fail "a passphrase appears in the container logs"
fi
echo "smoke: ok: no passphrase in the logs"
echo "smoke: PASS"
