#pragma once
// The process group behind duet::distributed: MPI when the program was started by an MPI launcher
// (mpirun/mpiexec, srun), otherwise a group of one process in which every collective is the identity and MPI
// is never initialized. Every collective first checks, in one small allreduce, that all ranks call the same
// collective with the same element count, dtype and operation (a mismatch throws DistributedError on every
// rank instead of corrupting memory), then runs MPI's blocking collective. A watchdog ends a process whose
// collective waited longer than the timeout (a dead or stalled peer): it prints what it waited for and exits,
// which makes the launcher stop the whole job.
#include <cstdint>
#include <string>

#include "duet/dtype.h"

namespace duet::comm {

enum class Reduce : std::uint8_t { Sum, Max, Min };

// Whether the environment says an MPI launcher started this process (without initializing MPI).
bool launched_by_mpi();
// Processes on this host according to the launcher (1 without one): the default thread count divides the
// cores among them.
int local_size_from_env();

int rank();  // initializes MPI on first use when launched by MPI
int size();

// In-place collectives over `count` contiguous elements. `what` names the caller in error messages
// ("allreduce", "gradient bucket 2 of 3").
void allreduce(void* buf, std::int64_t count, DType dtype, Reduce op, const std::string& what);
void broadcast(void* buf, std::int64_t count, DType dtype, int root, const std::string& what);
void barrier(const std::string& what);

// Seconds a collective may wait for the other ranks before the watchdog ends the process (default 300, or
// $DUET_COLLECTIVE_TIMEOUT).
void set_timeout(double seconds);
double timeout();

struct Stats {
  std::int64_t calls = 0;  // collectives run (the agreement check not counted)
  std::int64_t bytes = 0;  // payload bytes
  double seconds = 0;      // wall time inside them, agreement checks included
};
Stats stats();
void reset_stats();

}  // namespace duet::comm
