#!/usr/bin/env bash
# Runs test projects against the GStreamer the product image ships (docker/Dockerfile.gst: Debian 13
# "trixie", GStreamer 1.26), on a machine whose own GStreamer is another (Debian 12: 1.22), without Docker.
#
#   scripts/test-on-image-gstreamer.sh [--no-build] PROJECT... [dotnet test options]
#   scripts/test-on-image-gstreamer.sh shell [COMMAND...]      a shell (or one command) inside the root
#   e.g. scripts/test-on-image-gstreamer.sh tests/MixerWorker.Pipeline.Tests --filter FullyQualifiedName~Integration
#
# The tests are built here with the machine's own .NET SDK, then run in a Debian root made with
# debootstrap (IMAGE_GST_ROOT, default /var/tmp/mixerworker-trixie; made on first use, packages added
# when the list grows), holding the image's runtime packages as read from the Dockerfile plus what the
# tests start themselves. The SDK, ~/.nuget and this repository are bind-mounted at their own paths, so
# the same build runs against the root's libraries. Everything is mounted in a mount namespace of its
# own (unshare), which ends with the run: no mount outlives it, and removing the root never reaches
# through a mount into the repository.
#
# Needs root (debootstrap, chroot, mounts) and deb.debian.org the first time; that is why ./run.sh test,
# which CI runs on machines whose privileges are unknown, does not call it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${IMAGE_GST_ROOT:-/var/tmp/mixerworker-trixie}
release=${IMAGE_DEBIAN_RELEASE:-trixie}
mirror=${IMAGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}

die() { echo "test-on-image-gstreamer: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and bind mounts)"
case "$root/" in "$repo"/*) die "IMAGE_GST_ROOT must lie outside the repository" ;; esac

# The runtime stage's apt-get install list, less what drives GPUs (drivers and NVRTC load only where a GPU
# is, and the non-free ones would need another archive component): the GStreamer packages stay the image's.
image_packages() {
  awk '/^FROM debian/ { runtime = 1 }
       runtime && /apt-get install/ { listing = 1; next }
       listing && /rm -rf \/var\/lib\/apt\/lists/ { listing = 0 }
       listing { sub(/#.*/, ""); gsub(/\\/, ""); for (i = 1; i <= NF; i++) print $i }' "$repo/docker/Dockerfile.gst" \
    | grep -v -e '^[$"]' -e '^-' -e '^mesa-va-drivers$' -e '^vainfo$' -e '^libnvrtc' || true
}
# What the tests start or load besides: run.sh's extra packages (gstreamer1.0-x, redis-server, chromium for
# the dashboard's browser test), setpriv and taskset (util-linux), and ICU for the .NET runtime (trixie's soname).
TEST_PACKAGES=(gstreamer1.0-x redis-server chromium util-linux libicu76)
mapfile -t packages < <(image_packages)
[ ${#packages[@]} -gt 5 ] || die "could not read the runtime packages from docker/Dockerfile.gst"
packages+=("${TEST_PACKAGES[@]}")

ensure_root() {
  if [ ! -x "$root/usr/bin/apt-get" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
    echo "Making a $release root in $root (a few minutes, once)"
    mkdir -p "$root"
    # The base only: debootstrap's own resolver does not choose between alternatives (dbus-session-bus,
    # ...), which the GStreamer plugins' dependencies need; apt below does.
    debootstrap --variant=minbase "$release" "$root" "$mirror"
  fi
  local missing=() p
  for p in "${packages[@]}"; do
    chroot "$root" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing in $root: ${missing[*]}"
    # No service starts in the root when its package is installed (redis-server would stay running).
    printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    in_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    in_root apt-get clean
  fi
}

# Runs "$@" inside the root, in a mount namespace of its own.
in_root() {
  local sdk nuget
  sdk=$(dirname "$(readlink -f "$(command -v dotnet)")")
  nuget=${NUGET_PACKAGES:-$HOME/.nuget/packages}
  unshare --mount --propagation private -- bash -euo pipefail -c '
    root=$1 sdk=$2 nuget=$3 repo=$4; shift 4
    mount -t proc proc "$root/proc"
    for d in /dev /sys; do mount --rbind "$d" "$root$d"; done
    for d in /tmp "$sdk" "$nuget" "$repo"; do mkdir -p "$root$d"; mount --bind "$d" "$root$d"; done
    # localhost and the host name as the machine has them (the tests listen and connect on loopback)
    for f in /etc/hosts /etc/resolv.conf; do touch "$root$f"; mount --bind "$f" "$root$f"; done
    exec chroot "$root" env PATH="$sdk:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" DOTNET_ROOT="$sdk" \
      NUGET_PACKAGES="$nuget" DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 HOME=/root \
      bash -c "cd \"$repo\" && exec \"\$@\"" bash "$@"
  ' bash "$root" "$sdk" "$nuget" "$repo" "$@"
}

build=1
[ "${1:-}" = --no-build ] && { build=0; shift; }
[ $# -gt 0 ] || die "usage: $0 [--no-build] PROJECT... [dotnet test options] | shell [COMMAND...]"

ensure_root
if [ "$1" = shell ]; then
  shift
  [ $# -gt 0 ] || set -- bash
  in_root "$@"
  exit
fi

projects=()
while [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; do projects+=("$1"); shift; done
[ "$build" -eq 0 ] || (cd "$repo" && dotnet build worker.sln -c Release -nologo -v q)
in_root gst-inspect-1.0 --version | sed -n 2p
rc=0
# One project after the other, as ./run.sh test does (live media side by side misses its deadlines).
for project in "${projects[@]}"; do
  in_root dotnet test "$project" -c Release --no-build -nologo --logger "console;verbosity=normal" \
    --blame-hang-timeout 5m --blame-hang-dump-type none "$@" || rc=1
done
exit "$rc"
