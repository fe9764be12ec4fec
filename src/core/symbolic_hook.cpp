#include "core/symbolic_hook.h"

#include "core/tensor_impl.h"

namespace duet::internal {

// Weak defaults; the graph module defines the full versions (with the producing op and the reason).
[[gnu::weak]] void throw_symbolic_value_error(const Tensor& t, const char* what) {
  throw SymbolicValueError(std::string("[") + what + "] cannot read the value of a symbolic tensor of shape " +
                           t.shape().str() + "; compute on concrete tensors or use host_function");
}

[[gnu::weak]] std::string symbolic_op_name(const Tensor&) { return "?"; }

}  // namespace duet::internal
