#pragma once
// Several processes training one model (data parallelism over MPI, as Horovod and Keras's
// MultiWorkerMirroredStrategy do). Start the program with an MPI launcher:
//
//   mpirun -np 2 ./train            # add --allow-run-as-root as root, --oversubscribe beyond the cores
//   mpirun -np 8 --hostfile hosts ./train
//
// and compile the model with `.distribute = duet::distributed::DataParallel{}`: fit then splits every global
// batch among the ranks and averages the gradients, so the ranks end every step with bitwise identical
// weights. A program not started by a launcher is a group of one process (rank 0 of 1): every collective is
// the identity and MPI is never initialized.
//
// The collectives are ops: they run eagerly and inside traced functions, where they are stateful (never
// folded, merged, removed or reordered), and they have gradients. Every rank must run the same collectives in
// the same order on tensors of the same shape and dtype; a mismatch throws DistributedError on every rank. A
// collective that waits longer than timeout() for the other ranks (one died or stalled) ends its process with
// a message, which makes the launcher stop the job.
//
// A program that uses MPI itself calls MPI_Init_thread (MPI_THREAD_SERIALIZED or more) before duet's first
// collective and MPI_Finalize after its last; duet then uses its own duplicate of MPI_COMM_WORLD. Otherwise
// duet initializes MPI on first use and finalizes it at exit. Collectives from several threads at once are
// serialized, but every rank must still run them in the same order.
#include <cstdint>

#include "duet/tensor.h"

namespace duet::distributed {

int rank();  // this process's rank in [0, size())
int size();  // processes in the job (1 without a launcher)
inline bool is_chief() { return rank() == 0; }

enum class ReduceOp { Sum, Mean, Max, Min };

// The elementwise reduction of x over all ranks, on every rank. Mean is for floating dtypes; Sum on bool is
// refused. Gradients: Sum and Mean pass the reduction (Sum, Mean) of the incoming gradients; Max and Min pass
// the summed incoming gradient to the elements that attain the result (every tied rank gets it).
[[nodiscard]] Tensor allreduce(const Tensor& x, ReduceOp op = ReduceOp::Sum);
// Rank `root`'s x on every rank. Its gradient on root is the sum of the incoming gradients of all ranks, zero
// on the others.
[[nodiscard]] Tensor broadcast(const Tensor& x, int root = 0);
// Returns when every rank has called it.
void barrier();

// Seconds a collective waits for the other ranks before ending the process (default 300 s, or the
// environment variable DUET_COLLECTIVE_TIMEOUT).
void set_timeout(double seconds);
double timeout();

// Collectives run by this process since the start (or reset_stats): how many, their payload bytes, and the
// wall time spent in them (waiting for the slowest rank included).
struct Stats {
  std::int64_t calls = 0;
  std::int64_t bytes = 0;
  double seconds = 0;
};
Stats stats();
void reset_stats();

// Data-parallel training (CompileOptions::distribute). With N ranks, fit:
//  - broadcasts rank 0's weights and optimizer state to every rank when it starts (after callbacks restored a
//    backup; a model built by its first step: after that step);
//  - shuffles with the same seed on every rank, and gives rank r the r-th of N near-equal contiguous parts of
//    every global batch (FitOptions::batch_size is the global batch; a last batch with fewer examples than
//    ranks is skipped);
//  - averages the gradients over all examples of the global batch (weighted by each rank's share) with
//    few large allreduces: the gradients are concatenated into buckets of up to bucket_bytes;
//  - averages the updates of non-trainable float weights (batch-norm moving statistics) after every step;
//  - sums metric states across ranks, so losses and metrics are those of the global batch, the same on every
//    rank (callbacks decide alike: EarlyStopping, ReduceLROnPlateau, TerminateOnNaN);
//  - stops every rank when a callback sets stop_training on any rank;
//  - prints the progress bar, and writes checkpoints and backups, on rank 0 only.
// Validation and evaluate run the whole data set on every rank. Without a launcher it trains as usual.
struct DataParallel {
  std::int64_t bucket_bytes = std::int64_t{25} << 20;
};

}  // namespace duet::distributed
