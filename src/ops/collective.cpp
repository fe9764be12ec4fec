// Collective ops across the processes of an MPI job (duet/distributed.h). They are stateful: graph passes
// never fold, merge, remove or reorder them, so every rank runs its collectives in program order.
#include <cstring>

#include "core/comm.h"
#include "core/tensor_impl.h"
#include "duet/distributed.h"
#include "duet/ops.h"
#include "ops/op_def.h"
#include "ops/registry.h"

namespace duet {
namespace {

// attr "op": ReduceOp's order (0 sum, 1 mean, 2 max, 3 min).
void infer_allreduce(InferContext& c) {
  std::int64_t op = c.attrs.i("op");
  DType d = c.dtype(0);
  if (op < 0 || op > 3) c.value_error("op must be sum, mean, max or min, got " + std::to_string(op));
  if (op == 1 && !is_floating(d)) {
    c.dtype_error(std::string("mean needs a float32 or float64 tensor, got ") + dtype_name(d) +
                  "; use sum and divide, or cast first");
  }
  if (op == 0 && d == DType::Bool)
    c.dtype_error("sum of a bool tensor is not defined; use max (any) or min (all), or cast to int32 first");
  c.set_output(d, c.shape(0));
}

void copy_input(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  std::memcpy(raw(k.outputs[0]), raw(x), static_cast<std::size_t>(x.num_elements()) * dtype_size(x.dtype()));
}

void allreduce_kernel(KernelContext& k) {
  copy_input(k);
  Tensor& out = k.outputs[0];
  const std::int64_t op = k.attrs.i("op");
  const comm::Reduce r = op == 2 ? comm::Reduce::Max : op == 3 ? comm::Reduce::Min : comm::Reduce::Sum;
  comm::allreduce(raw(out), out.num_elements(), out.dtype(), r, "allreduce");
  if (op == 1 && comm::size() > 1) {
    const std::int64_t n = out.num_elements();
    if (out.dtype() == DType::Float32) {
      auto* p = static_cast<float*>(raw(out));
      const auto s = static_cast<float>(comm::size());
      for (std::int64_t i = 0; i < n; ++i) p[i] /= s;
    } else {
      auto* p = static_cast<double*>(raw(out));
      const auto s = static_cast<double>(comm::size());
      for (std::int64_t i = 0; i < n; ++i) p[i] /= s;
    }
  }
}

std::vector<Tensor> allreduce_grad(const GradContext& c) {
  const std::int64_t op = c.attrs.i("op");
  if (op == 1) return {distributed::allreduce(c.grads[0], distributed::ReduceOp::Mean)};
  Tensor g = distributed::allreduce(c.grads[0], distributed::ReduceOp::Sum);
  if (op == 0) return {g};
  // max / min: the summed gradient goes to the elements that attain the result.
  return {g * cast(equal(c.inputs[0], c.outputs[0]), g.dtype())};
}

void infer_broadcast(InferContext& c) {
  std::int64_t root = c.attrs.i("root");
  if (root < 0 || root >= comm::size()) {
    c.value_error("root " + std::to_string(root) + " is not a rank of this job (ranks 0.." +
                  std::to_string(comm::size() - 1) + ")");
  }
  c.set_output(c.dtype(0), c.shape(0));
}

void broadcast_kernel(KernelContext& k) {
  copy_input(k);
  Tensor& out = k.outputs[0];
  comm::broadcast(raw(out), out.num_elements(), out.dtype(), static_cast<int>(k.attrs.i("root")), "broadcast");
}

std::vector<Tensor> broadcast_grad(const GradContext& c) {
  // Every rank takes part in the sum; only the root's input received the value.
  Tensor g = distributed::allreduce(c.grads[0], distributed::ReduceOp::Sum);
  if (c.attrs.i("root") == comm::rank()) return {g};
  return {zeros_like(c.grads[0])};
}

const OpDef kAllReduce{.name = "AllReduce",
                       .public_name = "distributed::allreduce",
                       .num_inputs = 1,
                       .infer = infer_allreduce,
                       .kernel = allreduce_kernel,
                       .grad = allreduce_grad,
                       .traits = kStateful | kNotFoldable};
const OpDef kBroadcast{.name = "Broadcast",
                       .public_name = "distributed::broadcast",
                       .num_inputs = 1,
                       .infer = infer_broadcast,
                       .kernel = broadcast_kernel,
                       .grad = broadcast_grad,
                       .traits = kStateful | kNotFoldable};

}  // namespace

static void register_collective_ops(std::vector<const OpDef*>& r) {
  r.push_back(&kAllReduce);
  r.push_back(&kBroadcast);
}
const OpRegistration kRegisterCollectiveOps{register_collective_ops};

namespace distributed {

int rank() { return comm::rank(); }
int size() { return comm::size(); }

Tensor allreduce(const Tensor& x, ReduceOp op) {
  const auto code = static_cast<std::int64_t>(op);
  if (code < 0 || code > 3) throw ValueError("[distributed::allreduce] unknown ReduceOp " + std::to_string(code));
  return call(kAllReduce, {x}, {{"op", code}});
}

Tensor broadcast(const Tensor& x, int root) { return call(kBroadcast, {x}, {{"root", std::int64_t{root}}}); }

void barrier() { comm::barrier("barrier"); }

void set_timeout(double seconds) { comm::set_timeout(seconds); }
double timeout() { return comm::timeout(); }

Stats stats() {
  comm::Stats s = comm::stats();
  return {s.calls, s.bytes, s.seconds};
}
void reset_stats() { comm::reset_stats(); }

}  // namespace distributed
}  // namespace duet
