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
# The wheel needs nothing else at run time: every library libduet links, beyond the C and C++ runtimes, is
# found inside the package (and MPI is not linked at all: its plugin is loaded only under mpirun).
pkg=$("$work/venv/bin/python" -c 'import duet, os; print(os.path.dirname(duet.__file__))')
deps=$(ldd "$pkg/libduet.so.0")
for lib in libdnnl.so.2 libOpenCL.so.1 libz.so.1 libgomp.so.1; do
  if ! grep -q "$lib => $pkg/$lib" <<< "$deps"; then
    echo "$deps"
    echo "pip_install_test: FAIL: $lib is not loaded from the package ($pkg)" >&2
    exit 1
  fi
done
if grep -q "libmpi" <<< "$deps" || [[ ! -f $pkg/libduet_mpi.so ]]; then
  echo "pip_install_test: FAIL: libduet links MPI, or the MPI plugin is missing from the package" >&2
  exit 1
fi
echo "pip_install_test: the package carries its libraries: $(cd "$pkg" && ls *.so* | tr '\n' ' ')"
DUET_ADAPT_THREADS=0 "$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$top/python/tests"
