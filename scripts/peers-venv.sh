#!/usr/bin/env bash
# Creates (or brings up to date) the project's virtual environment for the peers and the TensorFlow oracle:
# .venv-peers at the repository's top, with the pinned versions of bench/peers/requirements.txt. Python
# packages go only there, never into a system interpreter. Prints the venv's python on the last line.
# Usage: scripts/peers-venv.sh   (DUET_PEERS_VENV overrides the location)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
venv=${DUET_PEERS_VENV:-$top/.venv-peers}
req=$top/bench/peers/requirements.txt
stamp=$venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  echo "$venv/bin/python"
  exit 0
fi
# CPython 3.11 with venv: the one first on PATH, else Debian's (python3-venv, installed when missing).
py=""
for cand in python3.11 python3; do
  if command -v "$cand" > /dev/null && "$cand" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != (3, 11))' 2> /dev/null; then
    py=$(command -v "$cand")
    break
  fi
done
if [[ -z $py ]]; then
  bash "$top/scripts/install-deps.sh" --python > /dev/null
  py=/usr/bin/python3
fi
echo "peers-venv: creating $venv with $("$py" --version) from $py" >&2
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip > /dev/null 2>&1 || true
if ! "$venv/bin/python" -m pip install -q -r "$req" >&2; then
  echo "peers-venv: FAILED: pip could not install $req into $venv" >&2
  exit 1
fi
echo "$want" > "$stamp"
echo "$venv/bin/python"
