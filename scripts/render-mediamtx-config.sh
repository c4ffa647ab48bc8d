#!/bin/sh
# Renders the mediamtx.yml template into the file MediaMTX actually loads.
#
#   render-mediamtx-config.sh [--env-file FILE] TEMPLATE OUTPUT
#
# With --env-file the values come from FILE only (KEY=VALUE lines, as in config/mediamtx.env);
# without it they come from the environment (how docker/mediamtx-entrypoint.sh calls it, with
# compose's env_file). The file is parsed, never sourced, so it cannot run code.
#
# POSIX sh + awk on purpose: the same script runs on the deploy host (dash, mawk/gawk) and inside
# the Alpine-based MediaMTX image (busybox), with nothing to install.
#
# Values are validated and never printed: error messages name the variable and the rule only.
set -euf
LC_ALL=C
export LC_ALL

me=render-mediamtx-config
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }

# Every variable the template may use; anything else in an env file is ignored.
known_vars="INGEST_SRT_PASSPHRASE OUTPUT_SRT_PASSPHRASE MEDIAMTX_WEBRTC_ALLOW_ORIGIN MEDIAMTX_WEBRTC_ADDITIONAL_HOSTS MEDIAMTX_WEBRTC_ENCRYPTION MEDIAMTX_RECORD_OUTPUTS"

env_file=
if [ "${1:-}" = "--env-file" ]; then
  [ $# -ge 2 ] || die "--env-file needs a file name"
  env_file=$2
  shift 2
fi
[ $# -eq 2 ] || die "usage: $me [--env-file FILE] TEMPLATE OUTPUT"
template=$1
output=$2
[ -r "$template" ] || die "template '$template' is not readable"

is_known_var() {
  for k in $known_vars; do [ "$k" = "$1" ] && return 0; done
  return 1
}

if [ -n "$env_file" ]; then
  [ -r "$env_file" ] || die "env file '$env_file' is not readable"
  for k in $known_vars; do unset "$k"; done
  cr=$(printf '\r')
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%"$cr"}
    case $line in ''|'#'*) continue ;; esac
    line=${line#export }
    case $line in *=*) ;; *) continue ;; esac
    key=${line%%=*}
    val=${line#*=}
    # Compose accepts one level of matching quotes around a value; so do we.
    case $val in
      \"*\") val=${val#\"}; val=${val%\"} ;;
      \'*\') val=${val#\'}; val=${val%\'} ;;
    esac
    if is_known_var "$key"; then
      # $key is one of the fixed names above, so this eval only ever assigns $val verbatim.
      eval "$key=\$val"
    fi
  done < "$env_file"
fi

# SRT passphrases go into MediaMTX and into the workers' SRT URIs and streamids, so they are
# limited to RFC 3986 unreserved characters (safe unescaped in YAML, URIs and shells alike);
# MediaMTX itself refuses anything outside 10-79 characters at start-up.
check_passphrase() {
  name=$1
  eval "val=\${$name:-}"
  [ -n "$val" ] || die "$name is missing or empty (set it in config/mediamtx.env; 10-79 characters, e.g. openssl rand -hex 24)"
  case $val in
    *[!A-Za-z0-9._~-]*) die "$name contains a character outside A-Z a-z 0-9 . _ ~ -" ;;
  esac
  len=${#val}
  if [ "$len" -lt 10 ] || [ "$len" -gt 79 ]; then
    die "$name has $len characters; MediaMTX requires 10 to 79"
  fi
  # Exported under a private name for awk; the value itself is never echoed.
  eval "R_$name=\"\\\"\$val\\\"\""
  export "R_$name"
}

# Comma-separated list -> the inside of a YAML flow sequence ("a", "b"), empty list allowed.
render_list() {
  name=$1
  default=$2
  allowed=$3
  eval "raw=\${$name:-}"
  [ -n "$raw" ] || raw=$default
  items=
  old_ifs=$IFS
  IFS=,
  for item in $raw; do
    IFS=$old_ifs
    # trim surrounding blanks
    item=${item#"${item%%[! ]*}"}
    item=${item%"${item##*[! ]}"}
    [ -n "$item" ] || continue
    case $item in
      *[!$allowed]*) die "$name has an entry with a character outside [$allowed]" ;;
    esac
    items="${items:+$items, }\"$item\""
  done
  IFS=$old_ifs
  eval "R_$name=\$items"
  export "R_$name"
}

check_passphrase INGEST_SRT_PASSPHRASE
check_passphrase OUTPUT_SRT_PASSPHRASE
render_list MEDIAMTX_WEBRTC_ALLOW_ORIGIN '*' 'A-Za-z0-9.:/*_-'
render_list MEDIAMTX_WEBRTC_ADDITIONAL_HOSTS '' 'A-Za-z0-9.:_-'

case ${MEDIAMTX_WEBRTC_ENCRYPTION:-no} in
  yes|true) R_MEDIAMTX_WEBRTC_ENCRYPTION=yes ;;
  no|false) R_MEDIAMTX_WEBRTC_ENCRYPTION=no ;;
  *) die "MEDIAMTX_WEBRTC_ENCRYPTION must be yes or no" ;;
esac
export R_MEDIAMTX_WEBRTC_ENCRYPTION

# project/bus pairs whose out path is recorded, separated by blanks or commas.
R_RECORD_OUTPUTS=
for entry in $(printf '%s' "${MEDIAMTX_RECORD_OUTPUTS:-}" | tr ',' ' '); do
  project=${entry%%/*}
  bus=${entry#*/}
  case $project in
    ''|[!a-z0-9]*|*[!a-z0-9_-]*) die "MEDIAMTX_RECORD_OUTPUTS: '$entry' is not <project>/<bus> with project ^[a-z0-9][a-z0-9_-]{0,62}\$" ;;
  esac
  [ ${#project} -le 63 ] || die "MEDIAMTX_RECORD_OUTPUTS: project in '$entry' is longer than 63 characters"
  case $bus in
    program|aux[1-7]) ;;
    *) die "MEDIAMTX_RECORD_OUTPUTS: bus in '$entry' must be program or aux1..aux7" ;;
  esac
  R_RECORD_OUTPUTS="$R_RECORD_OUTPUTS $project/$bus"
done
export R_RECORD_OUTPUTS

out_dir=$(dirname -- "$output")
[ -d "$out_dir" ] || die "output directory '$out_dir' does not exist"
# The rendered file holds the passphrases: owner-only, and written next to the target then
# renamed so MediaMTX never sees a half-written file.
umask 077
tmp=$(mktemp "$out_dir/.mediamtx.yml.XXXXXX")
trap 'rm -f "$tmp"' EXIT

awk -v me="$me" '
  function fail(msg) { printf "%s: %s\n", me, msg > "/dev/stderr"; failed = 1; exit 1 }
  # Replaces every quoted placeholder "@@NAME@@<anything>" with the prepared value of NAME.
  function subst(line,    out, tok, name) {
    out = ""
    while (match(line, /"@@[A-Z0-9_]+@@[^"]*"/)) {
      tok = substr(line, RSTART, RLENGTH)
      name = substr(tok, 4)
      sub(/@@.*/, "", name)
      if (!(("R_" name) in ENVIRON)) fail("template uses unknown placeholder " name)
      out = out substr(line, 1, RSTART - 1) ENVIRON["R_" name]
      line = substr(line, RSTART + RLENGTH)
    }
    return out line
  }
  /^[ \t]*# render:out-path-begin[ \t]*$/ { in_block = 1; print; next }
  /^[ \t]*# render:out-path-end[ \t]*$/   { in_block = 0; print; next }
  /^[ \t]*# render:recorded-outputs[ \t]*$/ {
    print
    count = split(ENVIRON["R_RECORD_OUTPUTS"], recorded, " ")
    if (count > 0 && block_len == 0) fail("template has no out-path block to copy for MEDIAMTX_RECORD_OUTPUTS")
    for (r = 1; r <= count; r++) {
      split(recorded[r], pb, "/")
      keyed = 0; switched = 0
      for (i = 1; i <= block_len; i++) {
        l = block[i]
        if (!keyed && l ~ /^[ \t]*"~\^out\//) {
          indent = l; sub(/[^ \t].*$/, "", indent)
          # A regex of its own (not a static name) keeps $G1/$G2 for the hooks; "(?:" sorts
          # before "out/" so MediaMTX tries it before the general out-path regex.
          l = indent "\"~^(?:out/(" pb[1] ")/(" pb[2] "))$\":"
          keyed = 1
        } else if (l ~ /^[ \t]+record:[ \t]*no[ \t]*$/) {
          sub(/no[ \t]*$/, "yes", l)
          switched = 1
        }
        print l
      }
      if (!keyed || !switched) fail("out-path block must contain the out regex key and a \"record: no\" line")
    }
    next
  }
  {
    line = subst($0)
    if (in_block) block[++block_len] = line
    print line
  }
  END { if (failed) exit 1 }
' "$template" > "$tmp" || die "rendering '$template' failed"

if grep -q '@@' "$tmp"; then
  die "rendered file still contains a placeholder (@@...@@); the template and this script disagree"
fi

chmod 600 "$tmp"
mv -f "$tmp" "$output"
trap - EXIT
printf '%s: wrote %s\n' "$me" "$output" >&2
