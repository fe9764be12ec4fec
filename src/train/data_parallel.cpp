#include "train/data_parallel.h"

#include "core/comm.h"
#include "duet/distributed.h"
#include "duet/ops.h"

namespace duet::data_parallel {
namespace {

std::vector<std::int64_t> dims(const Shape& s) { return {s.begin(), s.begin() + s.rank()}; }

Tensor flat(const Tensor& t) { return reshape(t, {-1}); }

}  // namespace

std::vector<Tensor> average_gradients(const std::vector<Tensor>& grads, const Tensor& rows, std::int64_t bucket_bytes,
                                      std::vector<Tensor>& losses) {
  std::vector<Tensor> out(grads.size());
  // Buckets: consecutive defined gradients of one dtype, up to bucket_bytes each (a larger gradient alone).
  std::vector<std::vector<std::size_t>> buckets;
  std::int64_t bytes = 0;
  DType dtype = DType::Float32;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) continue;
    const std::int64_t b = grads[i].num_elements() * static_cast<std::int64_t>(dtype_size(grads[i].dtype()));
    if (buckets.empty() || grads[i].dtype() != dtype || bytes + b > bucket_bytes) {
      buckets.emplace_back();
      bytes = 0;
      dtype = grads[i].dtype();
    }
    buckets.back().push_back(i);
    bytes += b;
  }
  if (buckets.empty()) return out;
  Tensor total_rows;
  for (std::size_t k = 0; k < buckets.size(); ++k) {
    const DType d = grads[buckets[k].front()].dtype();
    const Tensor r = cast(rows, d);
    std::vector<Tensor> parts;
    std::vector<std::int64_t> sizes;
    for (std::size_t i : buckets[k]) {
      parts.push_back(flat(grads[i] * r));
      sizes.push_back(grads[i].num_elements());
    }
    if (k == 0) {  // the row-weighted losses and the global row count ride in the first bucket
      for (const Tensor& l : losses) {
        parts.push_back(reshape(cast(l, d) * r, {1}));
        sizes.push_back(1);
      }
      parts.push_back(reshape(r, {1}));
      sizes.push_back(1);
    }
    Tensor summed = distributed::allreduce(parts.size() == 1 ? parts[0] : concat(parts, 0));
    std::vector<Tensor> pieces = sizes.size() == 1 ? std::vector<Tensor>{summed} : split(summed, sizes, 0);
    if (k == 0) {
      total_rows = reshape(pieces.back(), {});
      for (std::size_t j = 0; j < losses.size(); ++j) {
        const Tensor& piece = pieces[buckets[0].size() + j];
        losses[j] = cast(reshape(piece, {}) / total_rows, losses[j].dtype());
      }
    }
    for (std::size_t j = 0; j < buckets[k].size(); ++j) {
      const std::size_t i = buckets[k][j];
      out[i] = reshape(pieces[j], dims(grads[i].shape())) / cast(total_rows, d);
    }
  }
  return out;
}

void average_updates(const std::vector<Variable>& vars, const std::vector<Tensor>& before) {
  for (DType d : {DType::Float32, DType::Float64}) {
    std::vector<std::size_t> idx;
    std::vector<Tensor> deltas;
    std::vector<std::int64_t> sizes;
    for (std::size_t i = 0; i < vars.size(); ++i) {
      if (vars[i].dtype() != d) continue;
      idx.push_back(i);
      deltas.push_back(flat(vars[i].value() - before[i]));
      sizes.push_back(vars[i].shape().num_elements());
    }
    if (idx.empty()) continue;
    Tensor mean =
        distributed::allreduce(deltas.size() == 1 ? deltas[0] : concat(deltas, 0), distributed::ReduceOp::Mean);
    std::vector<Tensor> pieces = sizes.size() == 1 ? std::vector<Tensor>{mean} : split(mean, sizes, 0);
    for (std::size_t j = 0; j < idx.size(); ++j) {
      const Variable& v = vars[idx[j]];
      v.assign(before[idx[j]] + reshape(pieces[j], dims(v.shape())));
    }
  }
}

void broadcast_variables(const std::vector<Variable>& vars) {
  for (const Variable& v : vars) v.assign(distributed::broadcast(v.value(), 0));
}

// Between steps these run on raw buffers (a few eager op calls per variable, one collective): they run
// after every batch.
std::vector<Tensor> sum_states(const std::vector<Variable>& vars) {
  std::vector<Tensor> saved;
  std::vector<double> flat_values;
  for (const Variable& v : vars) {
    saved.push_back(v.value());
    std::vector<double> x = saved.back().to_vector<double>();
    flat_values.insert(flat_values.end(), x.begin(), x.end());
  }
  comm::allreduce(flat_values.data(), static_cast<std::int64_t>(flat_values.size()), DType::Float64, comm::Reduce::Sum,
                  "the sum of the metrics' states");
  std::size_t at = 0;
  for (const Variable& v : vars) {
    const auto n = static_cast<std::size_t>(v.shape().num_elements());
    v.assign(from_data(flat_values.data() + at, DType::Float64, v.shape(), v.dtype()));
    at += n;
  }
  return saved;
}

void restore_states(const std::vector<Variable>& vars, const std::vector<Tensor>& saved) {
  for (std::size_t i = 0; i < vars.size(); ++i) vars[i].assign(saved[i]);
}

bool any_rank(bool flag) {
  std::int32_t v = flag ? 1 : 0;
  comm::allreduce(&v, 1, DType::Int32, comm::Reduce::Max, "the agreement on stop_training");
  return v != 0;
}

void check_same(const std::vector<std::int64_t>& values, const std::string& what) {
  Tensor mine = constant(values, Shape{static_cast<std::int64_t>(values.size())}, DType::Int64);
  Tensor hi = distributed::allreduce(mine, distributed::ReduceOp::Max);
  Tensor lo = distributed::allreduce(mine, distributed::ReduceOp::Min);
  if (hi.to_vector<std::int64_t>() == lo.to_vector<std::int64_t>()) return;
  std::string mine_text;
  for (std::int64_t v : values) mine_text += (mine_text.empty() ? "" : ", ") + std::to_string(v);
  throw DistributedError("[fit] the ranks do not agree on " + what + " (rank " + std::to_string(distributed::rank()) +
                         " has " + mine_text + ")");
}

}  // namespace duet::data_parallel
