#!/usr/bin/env bash
# The Python package as a user installs it: `pip install .` from a clean copy of the repository into a new,
# empty venv (nothing else installed by hand), then the pytest suite against the installed package, from a
# directory where the source tree cannot shadow it. Needs PyPI (scikit-build-core, nanobind, numpy, pytest).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
py=$(bash "$top/scripts/python-venv.sh" | tail -1)  # a CPython 3.11 with venv (the venv's own interpreter)
base=$("$py" -c 'import sys; print(sys._base_executable)')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$top" archive --format=tar HEAD | tar -x -C "$work" 2> /dev/null || cp -r "$top/." "$work"
"$base" -m venv "$work/venv"
t=$(date +%s)
if ! "$work/venv/bin/python" -m pip install -q "$work" > "$work/pip.log" 2>&1; then
  tail -40 "$work/pip.log"
  echo "pip_install_test: FAIL: pip install . did not build" >&2
  exit 1
fi
echo "pip_install_test: pip install . took $(( $(date +%s) - t )) s"
"$work/venv/bin/python" -m pip install -q -r "$top/python/requirements-test.txt"
cd "$work"
rm -rf "$work/python/duet"  # the installed package only
"$work/venv/bin/python" -c 'import duet, sys; print("installed duet", duet.__version__, "at", duet.__file__)'
DUET_ADAPT_THREADS=0 "$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$top/python/tests"
