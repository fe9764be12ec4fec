#pragma once
#include <string>

#include "duet/variable.h"

namespace duet {

struct VariableImpl {
  Tensor value;  // always concrete
  std::string name;
  bool trainable = true;
  DType dtype = DType::Float32;
  Shape shape;
};

}  // namespace duet
