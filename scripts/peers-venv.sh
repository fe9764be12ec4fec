#!/usr/bin/env bash
# The project's virtual environment for the peers and the TensorFlow oracle: .venv-peers at the repository's
# top, with the pinned versions of bench/peers/requirements.txt (scripts/pinned-venv.sh). Prints the venv's
# python on the last line. Usage: scripts/peers-venv.sh   (DUET_PEERS_VENV overrides the location)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
exec bash "$top/scripts/pinned-venv.sh" peers-venv "${DUET_PEERS_VENV:-$top/.venv-peers}" \
  "$top/bench/peers/requirements.txt"
