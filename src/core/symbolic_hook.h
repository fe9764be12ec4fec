#pragma once
// Core reports value reads of symbolic tensors through these hooks; the graph module (above core) installs
// them at start-up and supplies the details: which op produced the tensor, why it is symbolic here, and
// what to do instead.
#include <string>

#include "duet/tensor.h"

namespace duet::internal {

struct SymbolicHooks {
  void (*throw_value_error)(const Tensor& t, const char* what) = nullptr;  // throws SymbolicValueError
  std::string (*op_name)(const Tensor& t) = nullptr;
};
SymbolicHooks& symbolic_hooks();

}  // namespace duet::internal
