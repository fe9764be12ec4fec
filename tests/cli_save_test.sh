#!/usr/bin/env bash
# `duet train --save` then `duet evaluate` in a fresh process: the same test accuracy and loss; `duet info`
# and `duet predict` read the file. Usage: cli_save_test.sh DUET_CLI
set -euo pipefail
duet=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
train=$("$duet" train fashion-mnist --model cnn --epochs 1 --steps 30 --quiet --save "$d/m.duet")
want=$(grep -o 'test accuracy: [0-9.]*  test loss: [0-9.]*' <<< "$train")
got=$("$duet" evaluate "$d/m.duet" | grep -o 'test accuracy: [0-9.]*  test loss: [0-9.]*')
echo "train:    $want"
echo "evaluate: $got"
[[ -n "$want" && "$want" == "$got" ]] || { echo "FAIL: evaluate differs from train"; exit 1; }
info=$("$duet" info "$d/m.duet")
grep -q "parameters: " <<< "$info" || { echo "FAIL: info"; exit 1; }
# A saved function (the fuzz corpus holds one with two signatures and a variable).
fn=$("$duet" info "$(dirname "$0")/../fuzz/corpus/function/control_flow.duetfn")
grep -q "2 signature(s)" <<< "$fn" && grep -q "w float32 (3, 3)" <<< "$fn" || { echo "FAIL: info of a function: $fn"; exit 1; }
# Five test images as an IDX file: five predictions, written to a file.
five_images() {  # the header of the test images with the count set to 5, then 5 images
  local src=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
  [[ -n "${DUET_DATA_DIR:-}" ]] && src=$DUET_DATA_DIR/t10k-images-idx3-ubyte.gz
  zcat "$src" > "$d/all.idx"
  { printf '\x00\x00\x08\x03\x00\x00\x00\x05'; tail -c +9 "$d/all.idx" | head -c $((8 + 28 * 28 * 5)) || true; } > "$1"
}
five_images "$d/five.idx"
"$duet" predict "$d/m.duet" --images "$d/five.idx" --output "$d/classes.txt"
[[ $(wc -l < "$d/classes.txt") == 5 ]] || { echo "FAIL: predict wrote $(wc -l < "$d/classes.txt") lines"; exit 1; }
echo "cli_save_test: passed"
