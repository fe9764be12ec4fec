#include "ops/fused.h"

#include <omp.h>

#include <atomic>
#include <cstring>

#include "core/tensor_impl.h"
#include "kernels/parallel.h"
#include "ops/registry.h"

namespace duet {

void FusedProgram::finalize(const std::vector<TensorSpec>& inputs) {
  output_of.assign(instrs.size(), -1);
  for (std::size_t o = 0; o < outputs.size(); ++o)
    output_of[static_cast<std::size_t>(outputs[o])] = static_cast<int>(o);
  f32_blocks = true;
  for (const auto& t : inputs) f32_blocks = f32_blocks && t.dtype == DType::Float32;
  for (auto& i : instrs) {
    f32_blocks = f32_blocks && i.dtype == DType::Float32 && i.op->block_f32 && i.args.size() <= kMaxBlockArgs;
    for (std::size_t j = 0; j < i.args.size() && j < kMaxBlockArgs; ++j)
      i.scalar[j] = i.args[j] >= 0 && inputs[static_cast<std::size_t>(i.args[j])].shape.num_elements() == 1;
  }
}

std::string FusedProgram::describe() const {
  std::string s = "[";
  for (std::size_t i = 0; i < instrs.size(); ++i) s += (i ? " " : "") + std::string(instrs[i].op->name);
  return s + "]";
}

namespace {

constexpr std::int64_t kBlock = 8192;

void infer_fused(InferContext& c) {
  const auto& p = static_cast<const FusedProgram&>(*c.attrs.fn("program"));
  for (const Tensor& t : c.inputs) {
    if (t.num_elements() != 1 && t.shape() != p.shape) {
      c.shape_error("input of shape " + t.shape().str() + " does not match the fused group's shape " + p.shape.str());
    }
  }
  for (int o : p.outputs) c.set_output(p.instrs[static_cast<std::size_t>(o)].dtype, p.shape);
}

// Float32 groups whose members all have block kernels run on raw pointers over L1-sized blocks; an
// instruction that is a group output writes straight into the output tensor.
constexpr std::int64_t kF32Block = 1024;

void run_f32_blocks(const FusedProgram& p, KernelContext& k, std::int64_t n) {
  const std::size_t ni = p.instrs.size();
  const std::int64_t nblocks = (n + kF32Block - 1) / kF32Block;
  // Threads claim a few blocks at a time, so one slowed down (a shared machine) does not hold up the rest.
  constexpr std::int64_t kClaim = 4;
  std::atomic<std::int64_t> next{0};
  auto work = [&] {
    // Per-thread scratch, kept between calls (no allocation, no zeroing on a small group's hot path).
    thread_local std::vector<float> buffers;
    thread_local std::vector<const float*> result;
    if (buffers.size() < static_cast<std::size_t>(p.num_slots * kF32Block))
      buffers.resize(static_cast<std::size_t>(p.num_slots * kF32Block));
    if (result.size() < ni) result.resize(ni);
    for (std::int64_t blk = 0, claimed_end = 0;; ++blk) {
      if (blk >= claimed_end) {
        blk = next.fetch_add(kClaim);
        if (blk >= nblocks) break;
        claimed_end = std::min(blk + kClaim, nblocks);
      }
      const std::int64_t off = blk * kF32Block, m = std::min(kF32Block, n - off);
      for (std::size_t i = 0; i < ni; ++i) {
        const auto& instr = p.instrs[i];
        const float* in[FusedProgram::kMaxBlockArgs];
        for (std::size_t j = 0; j < instr.args.size(); ++j) {
          const int a = instr.args[j];
          in[j] = a < 0 ? result[static_cast<std::size_t>(-a - 1)]
                        : static_cast<const float*>(raw(k.inputs[static_cast<std::size_t>(a)])) +
                              (instr.scalar[j] ? 0 : off);
        }
        const int o = p.output_of[i];
        float* out = o >= 0 ? static_cast<float*>(raw(k.outputs[static_cast<std::size_t>(o)])) + off
                            : buffers.data() + p.slot[i] * kF32Block;
        instr.op->block_f32(in, instr.scalar.data(), out, m);
        result[i] = out;
      }
    }
  };
  // Threads only when the group's work (elements x members) pays for starting them, as for single ops.
  const std::int64_t by_work = n * static_cast<std::int64_t>(ni) / kParallelGrain;
  const int workers = static_cast<int>(std::min<std::int64_t>({num_threads(), nblocks, by_work}));
  if (workers <= 1 || omp_in_parallel()) {
    work();
  } else {
    RegionErrors errors;
#pragma omp parallel num_threads(workers)
    errors.run(work);
    errors.rethrow();
  }
}

void fused_kernel(KernelContext& k) {
  const auto& p = static_cast<const FusedProgram&>(*k.attrs.fn("program"));
  const std::int64_t n = k.outputs[0].num_elements();
  if (p.f32_blocks) {
    run_f32_blocks(p, k, n);
    return;
  }
  const std::int64_t nblocks = (n + kBlock - 1) / kBlock;
  parallel_for(nblocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    // Per-thread block buffers, one per slot (8 bytes per element fits every dtype).
    std::vector<Tensor> slots;
    for (int s = 0; s < p.num_slots; ++s) slots.push_back(empty(Shape{kBlock}, DType::Float64));
    std::vector<Tensor> temps(p.instrs.size());
    Tensors ins;
    for (std::int64_t blk = b0; blk < b1; ++blk) {
      const std::int64_t off = blk * kBlock, m = std::min(kBlock, n - off);
      for (std::size_t i = 0; i < p.instrs.size(); ++i) {
        const auto& ins_def = p.instrs[i];
        ins.clear();
        for (int a : ins_def.args) {
          if (a >= 0) {
            const Tensor& e = k.inputs[static_cast<std::size_t>(a)];
            ins.push_back(e.num_elements() == 1 ? e : make_flat_view(e, off, m));
          } else {
            ins.push_back(temps[static_cast<std::size_t>(-a - 1)]);
          }
        }
        Tensor slot = slots[static_cast<std::size_t>(p.slot[i])];
        Tensor out = make_flat_view(slot, 0, m);
        out.impl()->dtype = ins_def.dtype;  // reinterpret the slot's bytes as this result's dtype
        temps[i] = out;
        KernelContext kc{*ins_def.op, ins, ins_def.attrs, {}, std::span<Tensor>(&temps[i], 1)};
        ins_def.op->kernel(kc);
      }
      for (std::size_t o = 0; o < p.outputs.size(); ++o) {
        const Tensor& t = temps[static_cast<std::size_t>(p.outputs[o])];
        std::size_t es = dtype_size(t.dtype());
        std::memcpy(static_cast<char*>(raw(k.outputs[o])) + off * static_cast<std::int64_t>(es), raw(t),
                    static_cast<std::size_t>(m) * es);
      }
    }
  });
}

const OpDef kFusedElementwise{.name = "FusedElementwise",
                              .public_name = "fused_elementwise",
                              .num_inputs = -1,
                              .infer = infer_fused,
                              .kernel = fused_kernel,
                              .grad = nullptr,
                              .traits = kElementwise};

}  // namespace

const OpDef& fused_elementwise_op() { return kFusedElementwise; }

static void register_fused_ops(std::vector<const OpDef*>& r) { r.push_back(&kFusedElementwise); }
const OpRegistration kRegisterFusedOps{register_fused_ops};

}  // namespace duet
