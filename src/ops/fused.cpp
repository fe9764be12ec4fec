#include "ops/fused.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "core/tensor_impl.h"
#include "kernels/parallel.h"
#include "ops/registry.h"

namespace duet {

void FusedProgram::finalize(const std::vector<TensorSpec>& inputs) {
  input_at.resize(inputs.size());
  input_shapes.clear();
  f32_blocks = true;
  for (const auto& t : inputs) {
    f32_blocks = f32_blocks && t.dtype == DType::Float32;
    input_shapes.push_back(t.shape);
  }
  for (auto& i : instrs) {
    f32_blocks = f32_blocks && i.dtype == DType::Float32 && i.op->block_f32 && i.args.size() <= kMaxBlockArgs;
    for (std::size_t j = 0; j < i.args.size() && j < kMaxBlockArgs; ++j) {
      const auto a = static_cast<std::size_t>(i.args[j]);
      i.scalar[j] = i.args[j] >= 0 && input_at[a].plain() && inputs[a].shape.num_elements() == 1;
    }
  }
  bool strided = false;
  direct_out.assign(instrs.size(), -1);
  copied_stores.assign(instrs.size(), {});
  for (std::size_t s = 0; s < stores.size(); ++s) {
    const Store& st = stores[s];
    const auto i = static_cast<std::size_t>(st.instr);
    if (st.at.plain() && direct_out[i] < 0)
      direct_out[i] = st.output;
    else
      copied_stores[i].push_back(static_cast<int>(s));
    strided = strided || !st.at.plain();
  }
  gather_slot.assign(inputs.size(), -1);
  num_gathered = 0;
  for (std::size_t j = 0; j < inputs.size(); ++j)
    if (!input_at[j].plain()) {
      gather_slot[j] = num_gathered++;
      strided = true;
    }
  if (strided && !f32_blocks) {
    throw StateError(
        "[fused_elementwise] a group that reads parts of a split or writes parts of a concat must be "
        "float32 with block kernels (a fusion pass bug: please report it)");
  }
}

std::string FusedProgram::describe() const {
  std::string s = "[";
  for (std::size_t i = 0; i < instrs.size(); ++i) s += (i ? " " : "") + std::string(instrs[i].op->name);
  std::size_t parts_in = 0, parts_out = 0;
  for (const auto& v : input_at) parts_in += !v.plain();
  for (const auto& st : stores) parts_out += !st.at.plain();
  if (parts_in) s += "; reads " + std::to_string(parts_in) + " split parts";
  if (parts_out) s += "; writes " + std::to_string(parts_out) + " concat parts";
  return s + "]";
}

namespace {

constexpr std::int64_t kBlock = 8192;

void infer_fused(InferContext& c) {
  const auto& p = static_cast<const FusedProgram&>(*c.attrs.fn("program"));
  for (std::size_t j = 0; j < c.inputs.size(); ++j) {
    const Tensor& t = c.inputs[j];
    const bool strided = j < p.input_at.size() && !p.input_at[j].plain();
    if (strided ? t.shape() != p.input_shapes[j] : (t.num_elements() != 1 && t.shape() != p.shape)) {
      c.shape_error("input " + std::to_string(j) + " of shape " + t.shape().str() +
                    " does not match the fused group's " +
                    (strided ? "split input " + p.input_shapes[j].str() : "shape " + p.shape.str()));
    }
  }
  for (const auto& o : p.output_specs) c.set_output(o.dtype, o.shape);
}

// Float32 groups whose members all have block kernels run on raw pointers over L1-sized blocks; an
// instruction that is a group output writes straight into the output tensor.
constexpr std::int64_t kF32Block = 1024;

// Copies elements [off, off + m) of the part `v` of `whole` to or from the contiguous `block`, run by run.
void copy_part(float* whole, const FusedProgram::Strided& v, std::int64_t off, std::int64_t m, float* block,
               bool to_block) {
  std::int64_t r = v.plain() ? 0 : off / v.row, c = v.plain() ? off : off % v.row;
  const std::int64_t row = v.plain() ? off + m : v.row, stride = v.plain() ? 0 : v.stride;
  for (std::int64_t done = 0; done < m; ++r, c = 0) {
    const std::int64_t take = std::min(row - c, m - done);
    float* at = whole + r * stride + v.offset + c;
    const auto bytes = static_cast<std::size_t>(take) * sizeof(float);
    to_block ? std::memcpy(block + done, at, bytes) : std::memcpy(at, block + done, bytes);
    done += take;
  }
}

// Elements [off, off + m) of a part of `whole`: a pointer into it when they are one run, else gathered
// into `scratch`.
const float* read_part(const float* whole, const FusedProgram::Strided& v, std::int64_t off, std::int64_t m,
                       float* scratch) {
  if (off % v.row + m <= v.row) return whole + off / v.row * v.stride + v.offset + off % v.row;
  copy_part(const_cast<float*>(whole), v, off, m, scratch, true);
  return scratch;
}

void run_f32_blocks(const FusedProgram& p, KernelContext& k, std::int64_t n) {
  const std::size_t ni = p.instrs.size(), nin = k.inputs.size();
  const std::int64_t nblocks = (n + kF32Block - 1) / kF32Block;
  // Threads only when the group's work (elements x members) pays for starting them, as for single ops.
  const std::int64_t by_work = n * static_cast<std::int64_t>(ni) / kParallelGrain;
  const int workers = static_cast<int>(std::min<std::int64_t>({num_threads(), nblocks, by_work}));
  // Threads claim a few blocks at a time, so one slowed down (a shared machine) does not hold up the rest;
  // a small group's few blocks are claimed one by one so every thread gets some.
  const std::int64_t claim = std::clamp<std::int64_t>(nblocks / (2 * std::max(workers, 1)), 1, 4);
  std::atomic<std::int64_t> next{0};
  auto work = [&] {
    // Per-thread scratch, kept between calls (no allocation, no zeroing on a small group's hot path).
    thread_local std::vector<float> buffers;
    thread_local std::vector<const float*> result, input;
    const auto scratch = static_cast<std::size_t>((p.num_slots + p.num_gathered) * kF32Block);
    if (buffers.size() < scratch) buffers.resize(scratch);
    if (result.size() < ni) result.resize(ni);
    if (input.size() < nin) input.resize(nin);
    float* gathered = buffers.data() + p.num_slots * kF32Block;
    for (std::int64_t blk = 0, claimed_end = 0;; ++blk) {
      if (blk >= claimed_end) {
        blk = next.fetch_add(claim);
        if (blk >= nblocks) break;
        claimed_end = std::min(blk + claim, nblocks);
      }
      const std::int64_t off = blk * kF32Block, m = std::min(kF32Block, n - off);
      for (std::size_t j = 0; j < nin; ++j) {
        const auto* base = static_cast<const float*>(raw(k.inputs[j]));
        const int g = p.gather_slot[j];
        input[j] = g >= 0                            ? read_part(base, p.input_at[j], off, m, gathered + g * kF32Block)
                   : k.inputs[j].num_elements() == 1 ? base
                                                     : base + off;
      }
      for (std::size_t i = 0; i < ni; ++i) {
        const auto& instr = p.instrs[i];
        const float* in[FusedProgram::kMaxBlockArgs];
        for (std::size_t j = 0; j < instr.args.size(); ++j) {
          const int a = instr.args[j];
          in[j] = a < 0 ? result[static_cast<std::size_t>(-a - 1)] : input[static_cast<std::size_t>(a)];
        }
        const int o = p.direct_out[i];
        float* out = o >= 0 ? static_cast<float*>(raw(k.outputs[static_cast<std::size_t>(o)])) + off
                            : buffers.data() + p.slot[i] * kF32Block;
        instr.op->block_f32(in, instr.scalar.data(), out, m);
        result[i] = out;
        for (int s : p.copied_stores[i]) {
          const auto& st = p.stores[static_cast<std::size_t>(s)];
          copy_part(static_cast<float*>(raw(k.outputs[static_cast<std::size_t>(st.output)])), st.at, off, m, out,
                    false);
        }
      }
    }
  };
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
  const std::int64_t n = p.shape.num_elements();
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
      for (const auto& st : p.stores) {  // plain stores only (finalize refuses parts outside the f32 path)
        const Tensor& t = temps[static_cast<std::size_t>(st.instr)];
        std::size_t es = dtype_size(t.dtype());
        std::memcpy(static_cast<char*>(raw(k.outputs[static_cast<std::size_t>(st.output)])) +
                        off * static_cast<std::int64_t>(es),
                    raw(t), static_cast<std::size_t>(m) * es);
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
