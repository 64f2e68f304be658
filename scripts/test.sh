#!/usr/bin/env bash
# Run the whole test suite (real Qt WebEngine windows, headless). Extra args go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec uv run pytest "$@"
