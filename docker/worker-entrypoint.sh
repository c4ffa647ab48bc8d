#!/bin/sh
# GStreamer caches its plugin scan in $GST_REGISTRY and reuses an entry while the plugin file is
# unchanged. nvcodec declares no dependency on the GPU, so a registry written while no GPU was
# visible (during an image build, or a start before the driver was ready) keeps nvh264enc, nvh264dec
# and the cuda* elements hidden from then on. Deleting it here makes every container start rescan
# with the devices it actually has; the scan costs a second or two once per start.
set -eu
rm -f "${GST_REGISTRY:?GST_REGISTRY must point at the registry file}"
exec "$@"
