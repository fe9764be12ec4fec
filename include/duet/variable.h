#pragma once
// Variable: named mutable state (weights, optimizer slots, counters, layer state). A handle: copies
// share the same state. Reads and assignments are ops, so tapes see reads and traced graphs capture
// the variable by reference (every replay reads and writes its current value).
#include <memory>
#include <string>

#include "duet/attrs.h"
#include "duet/tensor.h"

namespace duet {

struct VariableOptions {
  std::string name = "Variable";
  bool trainable = true;
};

class Variable {
 public:
  Variable() = default;
  explicit Variable(const Tensor& initial_value, VariableOptions options = {});

  // The current value (a ReadVariable op).
  Tensor value() const;
  operator Tensor() const { return value(); }

  // Each returns the new value. The value keeps its dtype and shape; a mismatch throws.
  Tensor assign(const Tensor& v) const;
  Tensor assign_add(const Tensor& delta) const;
  Tensor assign_sub(const Tensor& delta) const;

  const std::string& name() const;
  bool trainable() const;
  void set_trainable(bool t) const;
  DType dtype() const;
  const Shape& shape() const;
  bool defined() const { return impl_ != nullptr; }
  const VarRef& ref() const { return impl_; }
  explicit Variable(VarRef r) : impl_(std::move(r)) {}
  friend bool operator==(const Variable& a, const Variable& b) { return a.impl_ == b.impl_; }

 private:
  VarRef impl_;
};

std::ostream& operator<<(std::ostream& os, const Variable& v);
std::string variable_name(const VarRef& v);

}  // namespace duet
