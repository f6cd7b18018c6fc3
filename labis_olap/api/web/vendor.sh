#!/usr/bin/env bash
# Re-fetch the vendored JavaScript from the npm registry (run from anywhere; needs npm).
# The browser pages load only these copies: no CDN, no internet at run time.
set -euo pipefail
CHARTJS_VERSION=4.6.1
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "chart.js@$CHARTJS_VERSION" >/dev/null && tar xzf "chart.js-$CHARTJS_VERSION.tgz")
dest="$here/static/vendor/chart.js"
mkdir -p "$dest"
cp "$tmp/package/dist/chart.umd.min.js" "$tmp/package/LICENSE.md" "$dest/"
echo "chart.js $CHARTJS_VERSION -> $dest"
