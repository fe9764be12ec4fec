#pragma once
// Op attributes: a sorted list of plain comparable, hashable values, so CSE, trace caching, dumps and
// saving need no per-op code.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "duet/dtype.h"
#include "duet/shape.h"

namespace duet {

struct VariableImpl;
using VarRef = std::shared_ptr<VariableImpl>;

// Something an op runs (a compiled branch, a loop body, a host callable); compared by identity.
class Callable {
 public:
  virtual ~Callable() = default;
  virtual std::string describe() const = 0;
};
using FnRef = std::shared_ptr<const Callable>;

using AttrValue =
    std::variant<std::int64_t, double, bool, std::string, std::vector<std::int64_t>, DType, Shape, VarRef, FnRef>;

class Attrs {
 public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<std::string, AttrValue>> items);
  Attrs& set(std::string key, AttrValue v);
  bool has(std::string_view key) const;
  const AttrValue& get(std::string_view key) const;
  // Typed reads; a missing key or a value of another type throws ValueError naming both.
  std::int64_t i(std::string_view key) const { return as<std::int64_t>(key); }
  double f(std::string_view key) const { return as<double>(key); }
  bool b(std::string_view key) const { return as<bool>(key); }
  const std::string& s(std::string_view key) const { return as<std::string>(key); }
  const std::vector<std::int64_t>& ints(std::string_view key) const { return as<std::vector<std::int64_t>>(key); }
  DType dtype(std::string_view key) const { return as<DType>(key); }
  const Shape& shape(std::string_view key) const { return as<Shape>(key); }
  const VarRef& var(std::string_view key) const { return as<VarRef>(key); }
  const FnRef& fn(std::string_view key) const { return as<FnRef>(key); }

  bool empty() const { return items_.empty(); }
  const std::vector<std::pair<std::string, AttrValue>>& items() const { return items_; }
  std::size_t hash() const;
  // "axis=1, keepdims=false" (deterministic: keys sorted).
  std::string str() const;
  friend bool operator==(const Attrs& a, const Attrs& b) { return a.items_ == b.items_; }

 private:
  template <class T>
  const T& as(std::string_view key) const {
    const AttrValue& v = get(key);
    if (const T* p = std::get_if<T>(&v)) return *p;
    wrong_type(key, v, AttrValue(std::in_place_type<T>).index());
  }
  [[noreturn]] void wrong_type(std::string_view key, const AttrValue& v, std::size_t wanted) const;
  std::vector<std::pair<std::string, AttrValue>> items_;
};

std::string attr_value_str(const AttrValue& v);

}  // namespace duet
