#!/usr/bin/env bash
# Faults in a 2-rank data-parallel run (tests/mpi/mpi_job.cpp):
#   1. a rank killed mid-training: the job ends with a clear error well within the timeout, it does not hang;
#   2. restarted, the run resumes from rank 0's last backup and ends with bitwise the same weights as a run
#      never interrupted;
#   3. a rank that stops calling collectives (alive, stalled): the other rank's watchdog ends the job after
#      DUET_COLLECTIVE_TIMEOUT with a message saying what it waited for;
#   4. MPI support missing (libduet found where no libduet_mpi.so lies beside it) under a launcher: a clear
#      error saying what to install, not a crash.
# usage: fault_test.sh MPI_JOB
set -uo pipefail
job=$1
here=$(cd "$(dirname "$0")" && pwd)
run() { "$here/mpirun.sh" 2 "$job" "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do echo "--- $f"; cat "$f"; done; exit 1; }

# The uninterrupted run.
run "$tmp/clean" > "$tmp/clean.log" 2>&1 || fail "the uninterrupted run failed"
clean=$(grep -o 'weights hash [0-9a-f]*' "$tmp/clean.log") || fail "no hash from the uninterrupted run"
echo "uninterrupted: $clean"

# 1. Rank 1 killed after batch 22 (epoch 2; the last backup is after batch 20).
t0=$(date +%s)
timeout 120 "$here/mpirun.sh" 2 "$job" "$tmp/resume" --kill 1 22 > "$tmp/kill.log" 2>&1
rc=$?
dt=$(( $(date +%s) - t0 ))
[[ $rc -ne 0 ]] || fail "the job with a killed rank exited 0"
[[ $rc -ne 124 ]] || fail "the job with a killed rank hung until the 120 s timeout"
grep -q "exited on signal 9" "$tmp/kill.log" || fail "no message naming the killed rank"
[[ -f "$tmp/resume/backup.safetensors" ]] || fail "no backup left by the killed run"
echo "killed rank: the job ended in ${dt} s with exit status $rc: $(grep -m1 'exited on signal' "$tmp/kill.log")"

# 2. The restart resumes and ends where the uninterrupted run ended.
run "$tmp/resume" > "$tmp/resume.log" 2>&1 || fail "the restarted run failed"
grep -q "resuming from" "$tmp/resume.log" || fail "the restarted run did not resume from the backup"
resumed=$(grep -o 'weights hash [0-9a-f]*' "$tmp/resume.log") || fail "no hash from the restarted run"
[[ "$resumed" == "$clean" ]] || fail "resumed run ended with $resumed, the uninterrupted one with $clean"
echo "resumed: $(grep -m1 -o 'resuming from.*' "$tmp/resume.log"); $resumed (same as uninterrupted)"

# 3. Rank 1 stalls after batch 5; rank 0's collective times out after 5 s.
t0=$(date +%s)
DUET_COLLECTIVE_TIMEOUT=5 timeout 120 "$here/mpirun.sh" 2 -x DUET_COLLECTIVE_TIMEOUT "$job" "$tmp/stall" --stall 1 5 \
  > "$tmp/stall.log" 2>&1
rc=$?
dt=$(( $(date +%s) - t0 ))
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "the job with a stalled rank exited with $rc (0: no error; 124: hung)"
grep -q "rank 0 of 2 waited .* for the other ranks" "$tmp/stall.log" || fail "no watchdog message"
echo "stalled rank: the job ended in ${dt} s with exit status $rc: $(grep -m1 -o 'rank 0 of 2 waited.*ranks' "$tmp/stall.log")"

# 4. libduet loaded from a folder without the MPI plugin (LD_LIBRARY_PATH wins over the job's run path), in an
#    environment that says a launcher started it.
lib=$(ldd "$job" | awk '/libduet.so/ {print $3}')
mkdir -p "$tmp/lib" && cp "$lib" "$tmp/lib/"
OMPI_COMM_WORLD_SIZE=2 LD_LIBRARY_PATH="$tmp/lib" timeout 60 "$job" "$tmp/noplugin" > "$tmp/noplugin.log" 2>&1
rc=$?
[[ $rc -ne 0 && $rc -ne 124 && $rc -lt 128 ]] || fail "without the MPI plugin the job exited with $rc (0: no error; 124: hung; >128: crashed)"
grep -q "duet's MPI support could not be loaded.*libopenmpi3" "$tmp/noplugin.log" || fail "no message saying what is missing"
echo "no MPI plugin: exit status $rc: $(grep -m1 -o "duet's MPI support could not be loaded" "$tmp/noplugin.log")"
echo "PASS"
