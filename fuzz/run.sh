#!/usr/bin/env bash
# Runs every libFuzzer target of a DUET_FUZZ build for a fixed time on its seed corpus (fuzz/corpus/<name>,
# plus real files where the machine has them). Fails on the first crash, printing the input to replay.
set -euo pipefail
build=$1
seconds=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
findings="$build/fuzz-findings"  # crashing inputs are kept here (the work directory is removed)
status=0
for fuzzer in "$build"/fuzz/*_fuzzer; do
  name=$(basename "$fuzzer" _fuzzer)
  corpus="$work/$name"
  mkdir -p "$corpus"
  cp "$here/corpus/$name"/* "$corpus"/ 2> /dev/null || true
  if [[ $name == idx ]]; then  # real data: Debian's Fashion-MNIST labels (small, gzip)
    cp /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz "$corpus"/ 2> /dev/null || true
  fi
  echo "fuzz: $name for ${seconds}s on $(ls "$corpus" | wc -l) seed files"
  if ! "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=4096 -malloc_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$work/$name-" "$corpus" > "$work/$name.log" 2>&1; then
    tail -n 40 "$work/$name.log"
    mkdir -p "$findings"
    cp "$work"/$name-* "$findings"/ 2> /dev/null || true
    echo "fuzz: $name FAILED; replay with: $fuzzer $(ls "$findings"/$name-* 2> /dev/null | head -1)"
    status=1
  fi
  grep -E "^#[0-9]+.*(DONE|pulse)" "$work/$name.log" | tail -1 | sed "s/^/fuzz: $name: /"
done
exit $status
