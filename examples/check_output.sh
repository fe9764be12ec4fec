#!/usr/bin/env bash
# Runs an example program and checks that its output contains every given fragment (fixed strings).
set -uo pipefail
prog=$1
shift
out=$("$prog" 2>&1)
rc=$?
if [[ $rc -ne 0 ]]; then
  echo "$out"
  echo "FAILED: $prog exited with $rc"
  exit 1
fi
for want in "$@"; do
  if ! grep -qF -- "$want" <<< "$out"; then
    echo "$out"
    echo "FAILED: output of $prog lacks: $want"
    exit 1
  fi
done
echo "ok: $prog printed all ${#} expected fragments"
