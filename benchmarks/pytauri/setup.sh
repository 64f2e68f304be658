#!/usr/bin/env bash
# Sets up the optional PyTauri row of benchmarks/run_all.py: a venv of its own, outside
# the repository (pytauri-wheel must not enter the workspace's lock), holding the
# precompiled pytauri-wheel from PyPI. WebKitGTK 4.1 comes from apt (scripts/setup.sh
# installs it for the GTK backend). Idempotent.
#
#   bash benchmarks/pytauri/setup.sh          # venv in ~/.cache/ramparts-bench/pytauri
#   RAMPARTS_PYTAURI_VENV=/some/dir bash benchmarks/pytauri/setup.sh
set -euo pipefail

venv="${RAMPARTS_PYTAURI_VENV:-$HOME/.cache/ramparts-bench/pytauri}"
version="0.8.0"
python="${PYTHON:-python3}"

if ! /sbin/ldconfig -p 2>/dev/null | grep -q 'libwebkit2gtk-4\.1\.so\.0'; then
  echo "WebKitGTK 4.1 is missing: run scripts/setup.sh (or apt-get install libwebkit2gtk-4.1-0)" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv ..."
  "$python" -m venv "$venv"
fi
echo "installing pytauri-wheel $version into $venv ..."
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pytauri-wheel==$version"
"$venv/bin/python" -c "import pytauri_wheel, pytauri; print('pytauri-wheel ready:', pytauri_wheel.__file__)"
