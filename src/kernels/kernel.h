#pragma once
// What a CPU kernel receives. Kernels trust their inputs: shape/dtype inference (in ops/) validated them.
#include <span>

#include "duet/attrs.h"
#include "duet/tensor.h"

namespace duet {

struct OpDef;  // the op whose kernel runs (ops/op_def.h)

struct KernelContext {
  const OpDef& op;
  std::span<const Tensor> inputs;
  const Attrs& attrs;
  std::span<const TensorSpec> specs;  // inferred output specs (concrete shapes)
  std::span<Tensor> outputs;          // allocated by dispatch unless the op has kView
};

}  // namespace duet
