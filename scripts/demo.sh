#!/usr/bin/env bash
# Run the demo app. With a display it opens the window; without one it runs headless,
# prints what the page did over the bridge, and exits.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec uv run ramparts dev examples/hello --trace
fi
echo "demo: no display; running the app headless (Qt offscreen)" >&2
exec uv run ramparts dev examples/hello --headless --trace --eval examples/hello/demo.js
