#!/usr/bin/env bash
# The project's virtual environment for the Python package: .venv at the repository's top, with the pinned
# build and test tools of python/requirements.txt (nanobind, scikit-build-core, numpy, pytest) and an
# interpreter with headers (scripts/pinned-venv.sh). Prints the venv's python on the last line.
# Usage: scripts/python-venv.sh   (DUET_PYTHON_VENV overrides the location)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
exec bash "$top/scripts/pinned-venv.sh" python-venv "${DUET_PYTHON_VENV:-$top/.venv}" \
  "$top/python/requirements.txt" --headers
