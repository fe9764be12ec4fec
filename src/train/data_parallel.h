#pragma once
// The pieces of data-parallel fit (duet/distributed.h, DataParallel): gradient averaging inside the train
// step, the averaging of non-trainable weights' updates, and the eager agreements between steps (weights
// from rank 0, metric states, stop flags).
#include <cstdint>
#include <vector>

#include "duet/losses.h"
#include "duet/variable.h"

namespace duet::data_parallel {

// Inside the train step: the gradients of the global batch, sum_r rows_r * grad_r / sum_r rows_r, from few
// allreduces (the gradients concatenated into buckets of up to bucket_bytes; the row count and the losses
// ride in the first). rows: this rank's example count as a scalar tensor. losses: per-batch mean losses of
// this rank's rows, replaced by the global batch's. Undefined gradients stay undefined.
std::vector<Tensor> average_gradients(const std::vector<Tensor>& grads, const Tensor& rows, std::int64_t bucket_bytes,
                                      std::vector<Tensor>& losses);

// Inside the train step, after the update: every float variable in vars becomes before + the mean over
// ranks of (value - before), so weights a step changes differently on each rank (batch-norm statistics) agree
// again, and weights nobody changed stay bitwise unchanged.
void average_updates(const std::vector<Variable>& vars, const std::vector<Tensor>& before);

// Eager, between steps: rank 0's values into every rank's variables.
void broadcast_variables(const std::vector<Variable>& vars);

// Eager: runs read() while every metric's state holds the sum over ranks, then restores this rank's own.
template <class Read>
void with_summed_states(const std::vector<metrics::MetricPtr>& ms, Read read);

// Eager: whether the flag is set on any rank.
bool any_rank(bool flag);
// Eager: throws DistributedError on every rank unless all ranks pass the same values (what names them).
void check_same(const std::vector<std::int64_t>& values, const std::string& what);

// Swaps the metrics' state for its sum over ranks; returns this rank's values to put back.
std::vector<Tensor> sum_states(const std::vector<Variable>& vars);
void restore_states(const std::vector<Variable>& vars, const std::vector<Tensor>& saved);

template <class Read>
void with_summed_states(const std::vector<metrics::MetricPtr>& ms, Read read) {
  std::vector<Variable> vars;
  for (const auto& m : ms)
    for (const Variable& v : m->variables()) vars.push_back(v);
  std::vector<Tensor> saved = sum_states(vars);
  try {
    read();
  } catch (...) {
    restore_states(vars, saved);
    throw;
  }
  restore_states(vars, saved);
}

}  // namespace duet::data_parallel
