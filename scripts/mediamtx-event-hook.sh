#!/bin/sh
# MediaMTX path hook: tells the platform API that an ingest or output stream came or went.
#
#   mediamtx-event-hook URL EVENT PROJECT NAME SOURCE_TYPE
#
# mediamtx.yml calls it from runOnAvailable/runOnUnavailable with $G1 $G2 $MTX_SOURCE_TYPE, which
# MediaMTX substitutes before exec'ing this file (no shell is involved on its side). It POSTs
# exactly {"event","project","name","protocol"} and exits non-zero when the API does not take it,
# so MediaMTX logs the failure.
set -eu
LC_ALL=C
export LC_ALL

me=mediamtx-event-hook
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 2; }

[ $# -eq 5 ] || die "usage: $me URL EVENT PROJECT NAME SOURCE_TYPE (got $# arguments)"
url=$1 event=$2 project=$3 name=$4 source_type=$5

case $event in
  INGEST_ONLINE|INGEST_OFFLINE|OUTPUT_ONLINE|OUTPUT_OFFLINE) ;;
  *) die "unknown event '$event'" ;;
esac

# The path regexes already guarantee these shapes; checking again keeps the JSON below free of
# anything that would need escaping, whatever a future path entry passes in.
valid_name() {
  case $1 in ''|[!a-z0-9]*|*[!a-z0-9_-]*) return 1 ;; esac
  [ ${#1} -le 63 ]
}
valid_name "$project" || die "project '$project' does not match ^[a-z0-9][a-z0-9_-]{0,62}\$"
valid_name "$name" || die "name '$name' does not match ^[a-z0-9][a-z0-9_-]{0,62}\$"

# MTX_SOURCE_TYPE names the MediaMTX publisher type (internal/defs/api_path.go). Only the three
# protocols the platform publishes with are expected; anything else is still reported, because
# losing an online/offline transition is worse than an unexpected protocol label.
case $source_type in
  srtConn|srtSource) protocol=srt ;;
  rtmpConn|rtmpsConn|rtmpSource) protocol=rtmp ;;
  webRTCSession|webRTCSource) protocol=webrtc ;;
  *) protocol=unknown; printf '%s: unexpected MTX_SOURCE_TYPE, reporting protocol "unknown"\n' "$me" >&2 ;;
esac

body=$(printf '{"event":"%s","project":"%s","name":"%s","protocol":"%s"}' "$event" "$project" "$name" "$protocol")

# --fail turns a non-2xx answer into a non-zero exit; the retries cover an API that is restarting.
# --max-time bounds the hook: MediaMTX SIGINTs a runOnAvailable process when the stream ends, and
# a hung request would otherwise outlive the event it reports.
printf '%s' "$body" | curl --silent --show-error --fail \
  --max-time 5 --retry 3 --retry-delay 1 --retry-connrefused \
  --header 'Content-Type: application/json' \
  --data-binary @- \
  --output /dev/null \
  "$url"
