#pragma once
#include <string>
#include <vector>

#include "duet/variable.h"

namespace duet {

struct VariableImpl {
  Tensor value;  // always concrete
  std::string name;
  bool trainable = true;
  DType dtype = DType::Float32;
  Shape shape;
};

// Builds handles from impls (that constructor is private).
struct VariableAccess {
  static Variable wrap(VarRef v) { return Variable(std::move(v)); }
};

namespace internal {
// Every live variable (check_eager snapshots and restores them all: holding their values is cheap, since
// writes then copy instead of working in place).
std::vector<VarRef> live_variables();
}  // namespace internal

}  // namespace duet
