#pragma once
// The public ops as a table other languages read: each entry is a public C++ function with its
// TensorFlow-style name, the modules it appears in and its parameters (names and defaults, as TensorFlow
// spells them), and an invoker that converts dynamically typed values to the function's C++ parameter
// types. The Python package builds every op function from this table (python/duet/_ops.py), so an op
// registered here reaches Python with no binding code. Entries are registered next to the ops they expose,
// one ApiRegistration per family file.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "duet/shape.h"
#include "duet/tensor.h"

namespace duet::api {

// A value from a dynamic language. Int and Float stay apart (an int where a float is wanted is fine, the
// other way round is an error).
using Value = std::variant<std::monostate, Tensor, std::vector<Tensor>, bool, std::int64_t, double, std::string,
                           std::vector<std::int64_t>, DType>;

// What a parameter takes, for the caller's conversions and for documentation.
enum class Kind { Tensor, Tensors, Bool, Int, Float, String, Ints, DType, OptionalInt, Any };
const char* kind_name(Kind k);

struct Param {
  std::string name;
  Kind kind;
  std::optional<Value> default_value;  // none: required
};

struct Function {
  std::string name;                  // TensorFlow's name: "reduce_sum"
  std::vector<std::string> modules;  // where it appears: "" (top level), "math", "nn", "random", "linalg"
  std::vector<Param> params;
  bool returns_list = false;
  std::string doc;
  // Converts values (one per parameter, defaults filled in by the caller) and calls the C++ function.
  std::function<std::vector<Tensor>(const Function& self, std::span<const Value> values)> call;
};

// Every registered function, sorted by name (independent of static initialization order).
const std::vector<const Function*>& functions();
const Function* find(const std::string& name);

namespace detail {

// Conversions from a Value to each C++ parameter type a public function uses. Errors name the function and
// the parameter and are duet::ValueError or DTypeError.
[[noreturn]] void bad_value(const Function& f, const Param& p, const Value& v, const char* want,
                            bool wrong_kind = true);
void check_count(const Function& f, std::size_t values);
template <class T>
struct Convert;

template <>
struct Convert<Tensor> {
  static constexpr Kind kind = Kind::Tensor;
  static Tensor get(const Function& f, const Param& p, const Value& v);
};
template <>
struct Convert<std::vector<Tensor>> {
  static constexpr Kind kind = Kind::Tensors;
  static std::vector<Tensor> get(const Function& f, const Param& p, const Value& v);
};
template <>
struct Convert<bool> {
  static constexpr Kind kind = Kind::Bool;
  static bool get(const Function& f, const Param& p, const Value& v);
};
template <>
struct Convert<std::int64_t> {
  static constexpr Kind kind = Kind::Int;
  static std::int64_t get(const Function& f, const Param& p, const Value& v);
};
template <>
struct Convert<int> {
  static constexpr Kind kind = Kind::Int;
  static int get(const Function& f, const Param& p, const Value& v);
};
template <>
struct Convert<double> {
  static constexpr Kind kind = Kind::Float;
  static double get(const Function& f, const Param& p, const Value& v);
};
template <>
struct Convert<std::string> {
  static constexpr Kind kind = Kind::String;
  static std::string get(const Function& f, const Param& p, const Value& v);
};
template <>
struct Convert<std::vector<std::int64_t>> {
  static constexpr Kind kind = Kind::Ints;
  static std::vector<std::int64_t> get(const Function& f, const Param& p, const Value& v);
};
template <>
struct Convert<Shape> {
  static constexpr Kind kind = Kind::Ints;
  static Shape get(const Function& f, const Param& p, const Value& v);
};
template <>
struct Convert<DType> {
  static constexpr Kind kind = Kind::DType;
  static DType get(const Function& f, const Param& p, const Value& v);
};
// The value itself, for parameters whose meaning depends on its kind (split's num_or_size_splits).
template <>
struct Convert<Value> {
  static constexpr Kind kind = Kind::Any;
  static const Value& get(const Function&, const Param&, const Value& v) { return v; }
};
template <>
struct Convert<std::optional<std::uint64_t>> {
  static constexpr Kind kind = Kind::OptionalInt;
  static std::optional<std::uint64_t> get(const Function& f, const Param& p, const Value& v);
};

// "x, axis=None, keepdims=False": names and default values (None, True/False, ints, floats, 'strings',
// [int lists], and dtype names such as float32). Throws std::logic_error on a malformed list (a bug in
// a registration, found when the library loads).
std::vector<std::pair<std::string, std::optional<Value>>> parse_params(const std::string& spec);

template <class R>
std::vector<Tensor> wrap_result(R&& r) {
  if constexpr (std::is_same_v<std::decay_t<R>, Tensor>) {
    return {std::forward<R>(r)};
  } else {
    return std::vector<Tensor>(std::forward<R>(r));
  }
}

}  // namespace detail

// An entry for f under `name` in `modules` ("math,." = duet.math and the top level; "" alone = the top
// level), with the parameters of `spec` in order (one per C++ parameter).
template <class R, class... A>
Function fn(std::string name, const std::string& modules, R (*f)(A...), const std::string& spec, std::string doc = "") {
  Function out;
  out.name = std::move(name);
  out.doc = std::move(doc);
  std::string m;
  for (std::size_t i = 0; i <= modules.size(); ++i) {
    if (i == modules.size() || modules[i] == ',') {
      out.modules.push_back(m == "." ? "" : m);
      m.clear();
    } else {
      m += modules[i];
    }
  }
  const auto parsed = detail::parse_params(spec);
  if (parsed.size() != sizeof...(A)) {
    throw std::logic_error("[api] '" + out.name + "' lists " + std::to_string(parsed.size()) +
                           " parameters for a C++ function of " + std::to_string(sizeof...(A)));
  }
  constexpr Kind kinds[] = {detail::Convert<std::decay_t<A>>::kind..., Kind::Tensor};
  for (std::size_t i = 0; i < parsed.size(); ++i) out.params.push_back({parsed[i].first, kinds[i], parsed[i].second});
  out.returns_list = !std::is_same_v<std::decay_t<R>, Tensor>;
  out.call = [f](const Function& self, std::span<const Value> values) -> std::vector<Tensor> {
    detail::check_count(self, values.size());
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return detail::wrap_result(f(detail::Convert<std::decay_t<A>>::get(self, self.params[I], values[I])...));
    }
    (std::index_sequence_for<A...>{});
  };
  return out;
}

// Registers a family's entries at start-up (static object in the family's file).
struct ApiRegistration {
  explicit ApiRegistration(std::vector<Function> entries);
};

// TensorFlow's semantics where they differ from duet's C++ ops, for the languages that speak TensorFlow:
// divide/truediv (and Python's /) of two integer tensors is true division in float64, where C++'s div
// truncates.
Tensor true_divide(const Tensor& a, const Tensor& b);

}  // namespace duet::api
