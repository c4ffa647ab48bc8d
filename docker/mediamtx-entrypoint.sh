#!/bin/sh
# Renders the template from the container environment (compose: env_file config/mediamtx.env) on
# every start, so a changed passphrase needs only a restart, then replaces itself with MediaMTX.
# A render failure stops the container with the renderer's message instead of starting MediaMTX
# with a half-configured file.
set -eu
template=${MEDIAMTX_TEMPLATE:-/etc/mediamtx/mediamtx.yml.tmpl}
config=/run/mediamtx/mediamtx.yml
render-mediamtx-config "$template" "$config"
exec mediamtx "$config"
