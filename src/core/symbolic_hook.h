#pragma once
// Core reports value reads of symbolic tensors through these; the graph module supplies the details
// (which op produced the tensor, why it is symbolic here, what to do instead).
#include <string>

#include "duet/tensor.h"

namespace duet::internal {

[[noreturn]] void throw_symbolic_value_error(const Tensor& t, const char* what);
std::string symbolic_op_name(const Tensor& t);

}  // namespace duet::internal
