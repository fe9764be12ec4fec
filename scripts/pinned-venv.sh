#!/usr/bin/env bash
# Creates (or brings up to date) one of the project's virtual environments with the pinned packages of a
# requirements file, and prints the venv's python on the last line. A hash stamp of the requirements makes it
# idempotent. The interpreter is CPython 3.11: the one first on PATH, else Debian's (installed with its venv
# module and headers when missing). Nothing goes into a system interpreter.
# Usage: scripts/pinned-venv.sh LABEL VENV REQUIREMENTS [--headers]   (--headers: the interpreter must have
# Python.h, to build extensions). peers-venv.sh and python-venv.sh call it.
set -euo pipefail
label=$1 venv=$2 req=$3 headers=${4:-}
top=$(cd "$(dirname "$0")/.." && pwd)
stamp=$venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  echo "$venv/bin/python"
  exit 0
fi
check='import sys, sysconfig, os, venv, ensurepip
ok = sys.version_info[:2] == (3, 11)
if sys.argv[1] == "--headers":
    ok = ok and os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))
sys.exit(not ok)'
py=""
for cand in python3.11 python3; do
  if command -v "$cand" > /dev/null && "$cand" -c "$check" "${headers:-none}" 2> /dev/null; then
    py=$(command -v "$cand")
    break
  fi
done
if [[ -z $py ]]; then
  bash "$top/scripts/install-deps.sh" --python > /dev/null
  py=/usr/bin/python3
fi
echo "$label: creating $venv with $("$py" --version) from $py" >&2
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip > /dev/null 2>&1 || true
if ! "$venv/bin/python" -m pip install -q -r "$req" >&2; then
  echo "$label: FAILED: pip could not install $req into $venv" >&2
  exit 1
fi
echo "$want" > "$stamp"
echo "$venv/bin/python"
