#!/usr/bin/env bash
# Creates (or brings up to date) the project's virtual environment for the Python package: .venv at the
# repository's top, with the pinned build and test tools of python/requirements.txt (nanobind,
# scikit-build-core, numpy, pytest). Prints the venv's python on the last line. Nothing goes into a system
# interpreter. Usage: scripts/python-venv.sh   (DUET_PYTHON_VENV overrides the location)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
venv=${DUET_PYTHON_VENV:-$top/.venv}
req=$top/python/requirements.txt
stamp=$venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  echo "$venv/bin/python"
  exit 0
fi
# CPython 3.11 with venv and headers: the one first on PATH, else Debian's (installed when missing).
py=""
for cand in python3.11 python3; do
  if command -v "$cand" > /dev/null && "$cand" -c '
import sys, sysconfig, os, venv, ensurepip
sys.exit(sys.version_info[:2] != (3, 11) or not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2> /dev/null; then
    py=$(command -v "$cand")
    break
  fi
done
if [[ -z $py ]]; then
  bash "$top/scripts/install-deps.sh" --python > /dev/null
  py=/usr/bin/python3
fi
echo "python-venv: creating $venv with $("$py" --version) from $py" >&2
rm -rf "$venv"
"$py" -m venv "$venv"
if ! "$venv/bin/python" -m pip install -q -r "$req" >&2; then
  echo "python-venv: FAILED: pip could not install $req into $venv" >&2
  exit 1
fi
echo "$want" > "$stamp"
echo "$venv/bin/python"
