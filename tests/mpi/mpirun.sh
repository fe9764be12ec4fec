#!/usr/bin/env bash
# Runs a program on N ranks of this machine with the OpenMPI flags a test machine needs:
#   tests/mpi/mpirun.sh N PROGRAM [ARGS...]
# --oversubscribe: more ranks than free cores (2 ranks next to the test runner on 2 cores);
# running as root (CI, containers) needs OpenMPI's explicit consent; the shared-memory transport's single-copy
# mechanism (ptrace-based CMA) is often forbidden in containers, so plain copies are used.
set -euo pipefail
n=$1; shift
export OMPI_MCA_btl_vader_single_copy_mechanism=none
if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
# One thread per rank unless the caller says otherwise.
export DUET_NUM_THREADS=${DUET_NUM_THREADS:-1}
exec mpirun -np "$n" --oversubscribe --bind-to none "$@"
