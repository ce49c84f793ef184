#!/usr/bin/env bash
# Fetch the console's third-party browser library (ECharts) from the npm registry into
# src/shaobing/server/static/vendor/ (not committed). The tarball is pinned by version and
# SHA-256; without npm or network the pages still work and show tables instead of charts.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=6.1.0
SHA256=681aff88cc1038c3fa941a3a53d1b177a52250b05335efc607d6105ae13be481
DEST=src/shaobing/server/static/vendor
if [[ -f "$DEST/echarts.min.js" && "$(cat "$DEST/.echarts-version" 2>/dev/null)" == "$VERSION" ]]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "fetch-web-assets: npm not found; the console will show tables instead of charts" >&2
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm pack "echarts@$VERSION" --silent >/dev/null 2>"$tmp/npm.log"); then
    echo "fetch-web-assets: npm pack echarts@$VERSION failed; charts fall back to tables" >&2
    sed -n 1,5p "$tmp/npm.log" >&2
    exit 0
fi
echo "$SHA256  $tmp/echarts-$VERSION.tgz" | sha256sum --check --quiet
tar -xzf "$tmp/echarts-$VERSION.tgz" -C "$tmp" package/dist/echarts.min.js package/LICENSE
mkdir -p "$DEST"
install -m 0644 "$tmp/package/dist/echarts.min.js" "$DEST/echarts.min.js"
install -m 0644 "$tmp/package/LICENSE" "$DEST/ECHARTS-LICENSE.txt"
echo "$VERSION" > "$DEST/.echarts-version"
echo "fetch-web-assets: ECharts $VERSION installed in $DEST"
