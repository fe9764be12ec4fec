#pragma once
// FusedElementwise: a group of elementwise ops over tensors of one shape, run block by block (each block
// small enough to stay in cache) with the member ops' own kernels, so the group makes one pass over
// memory instead of one per op. Float32 groups whose members all have block kernels (OpDef::block_f32)
// run on raw pointers over L1-sized blocks. Built by the fusion pass; never dispatched by user code.
#include <array>

#include "ops/op_def.h"

namespace duet {

struct FusedProgram : Callable {
  static constexpr std::size_t kMaxBlockArgs = 4;
  struct Instr {
    const OpDef* op;
    Attrs attrs;
    std::vector<int> args;  // >= 0: external input index; < 0: temp -(arg + 1) (an earlier instruction)
    DType dtype;            // of this instruction's result
    std::array<bool, kMaxBlockArgs> scalar{};  // block path: args that are one-element inputs
  };
  // Where element e of the group's shape lives in a larger tensor: at (e / row) * stride + offset + e % row
  // (one part of a split or of a concat along any axis). row == 0: the tensor has the group's shape (or is
  // a one-element input) and is read or written as it is. Strided inputs and stores need f32_blocks.
  struct Strided {
    std::int64_t row = 0, stride = 0, offset = 0;
    bool plain() const { return row == 0; }
  };
  struct Store {
    int instr;   // whose result
    int output;  // goes into this output of the fused node
    Strided at;  // plain: the whole output; else one part of it (outputs made of parts are concats)
  };
  std::vector<Instr> instrs;
  std::vector<Store> stores;             // every output is written by one plain store or by its parts
  std::vector<TensorSpec> output_specs;  // of each fused output
  std::vector<Strided> input_at;         // per external input
  std::vector<int> slot;                 // instruction -> reusable block buffer
  int num_slots = 0;
  Shape shape;  // of every instruction's result (fully known)
  // Derived once by finalize() from the above and the external inputs' specs:
  std::vector<Shape> input_shapes;              // what each external input must be at run time
  std::vector<int> direct_out;                  // instruction -> the output its one plain store is, or -1
  std::vector<std::vector<int>> copied_stores;  // instruction -> its other stores (indices into `stores`)
  std::vector<int> gather_slot;                 // strided input -> its gather buffer; plain input -> -1
  int num_gathered = 0;
  bool f32_blocks = false;  // every value float32 and every member has a block kernel
  void finalize(const std::vector<TensorSpec>& inputs);
  std::string describe() const override;
};

const OpDef& fused_elementwise_op();
// FusedConv2D (x, w, b; attrs of conv2d + activation "" or "relu"): activation(conv2d(x, w) + b) as one
// oneDNN primitive. Built by the conv_bias_activation pass (src/ops/conv.cpp).
const OpDef& fused_conv2d_op();
// FusedConv2DPool (x, w, b) -> (FusedConv2D's output, its max_pool2d). Built by the conv_pool pass.
const OpDef& fused_conv2d_pool_op();
const OpDef& max_pool2d_op();
// FusedBatchNormRelu (x, gamma, beta; epsilon) -> (relu(fused_batch_norm(x)), mean, variance). Built by the
// batch_norm_relu pass (src/ops/nn.cpp).
const OpDef& fused_batch_norm_relu_op();
const OpDef& fused_batch_norm_op();
// MatMulSum: a tree of additions of 2-D matmuls (plus other addends) as one product over the operands
// packed along the contraction dimension. Built by the matmul_sum pass (src/ops/linalg.cpp).
const OpDef& matmul_sum_op();
// What the passes match, compared by OpDef identity.
const OpDef& matmul_op();
const OpDef& add_op();
const OpDef& conv2d_op();
const OpDef& bias_add_op();
const OpDef& relu_op();
const OpDef& read_variable_op();
const OpDef& max_pool2d_grad_op();
const OpDef& conv2d_backprop_filter_op();
const OpDef& conv2d_backprop_filter_bias_op();       // built by the conv_bias_grad pass (src/ops/conv.cpp)
const OpDef& conv2d_backprop_filter_bias_pool_op();  // likewise, when the grad is a relu'd max pool's gradient
const OpDef& sum_to_op();
const OpDef& max_pool2d_grad_relu_op();  // built by the pool_grad_relu pass (src/ops/conv.cpp)
const OpDef& relu_grad_op();
const OpDef& transpose_op();
const OpDef& split_op();
const OpDef& reshape_op();
const OpDef& split_view_op();  // built by the split_products pass (src/ops/shape_ops.cpp)
const OpDef& concat_op();

}  // namespace duet
