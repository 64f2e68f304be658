#!/usr/bin/env bash
# Idempotent set-up for a Debian machine (run as root): the system libraries of both engines,
# uv, and the project's Python environment. Sourced by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Libraries Qt WebEngine (Chromium) needs that a bare Debian image lacks.
QT_DEBS=(python3 python3-venv xvfb xauth libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4
  libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-shape0 libnss3
  libxcomposite1 libxdamage1 libxrandr2 libxtst6 libxkbfile1 libasound2 libegl1 libgl1
  libfontconfig1 libdbus-1-3 libglib2.0-0 libxkbcommon0 libxshmfence1 libgbm1)
# The GTK engine (backend = "gtk"): the system's WebKitGTK 4.1 and GTK 3 typelibs, and what
# PyGObject and pycairo (the core's `gtk` extra, in the dev environment) build from. GTK 3
# has no offscreen mode: its tests run under Xvfb.
GTK_DEBS=(gir1.2-webkit2-4.1 libwebkit2gtk-4.1-0 gir1.2-gtk-3.0 libgirepository1.0-dev
  libcairo2-dev pkg-config gcc python3-dev bubblewrap xdg-dbus-proxy)
# Tests only: strace shows the DNS queries an engine sends (tests/security/test_engine_egress.py).
TEST_DEBS=(strace)
# Tests only: a private session bus, GNOME's notification server on it and dbus-monitor
# (plugins/notification/tests: the notification capability against the real service).
TEST_DEBS+=(dbus-daemon dbus-bin notification-daemon)
# `ramparts build --deb` needs dpkg-dev (dpkg-shlibdeps); its tests check the package with
# lintian and desktop-file-validate (tests/test_deb.py).
TEST_DEBS+=(dpkg-dev lintian desktop-file-utils)
# Tests only: a window manager on a second Xvfb, for the window states only one carries
# out on GTK (tests/gtk_display.py: window_manager).
TEST_DEBS+=(openbox)

missing=()
for pkg in "${QT_DEBS[@]}" "${GTK_DEBS[@]}" "${TEST_DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v uv >/dev/null 2>&1; then
  if [ ! -x /opt/ramparts-tools/bin/uv ]; then
    echo "setup: installing uv from PyPI into /opt/ramparts-tools" >&2
    python3 -m venv /opt/ramparts-tools
    /opt/ramparts-tools/bin/pip install -q uv
  fi
  export PATH="/opt/ramparts-tools/bin:$PATH"
fi

echo "setup: syncing the Python environment (uv sync --frozen)" >&2
uv sync --frozen --quiet
