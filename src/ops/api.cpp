#include "ops/api.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <mutex>

#include "duet/error.h"
#include "duet/ops.h"

namespace duet::api {
namespace {

struct Registry {
  std::mutex mu;
  std::vector<std::unique_ptr<Function>> owned;
  std::vector<const Function*> sorted;
  std::map<std::string, const Function*> by_name;
};
Registry& registry() {
  static Registry r;
  return r;
}

std::string describe(const Value& v) {
  struct V {
    std::string operator()(std::monostate) const { return "None"; }
    std::string operator()(const Tensor& t) const {
      return t.defined() ? "a " + std::string(dtype_name(t.dtype())) + " tensor of shape " + t.shape().str()
                         : "an undefined tensor";
    }
    std::string operator()(const std::vector<Tensor>& t) const {
      return "a list of " + std::to_string(t.size()) + " tensors";
    }
    std::string operator()(bool b) const { return b ? "True" : "False"; }
    std::string operator()(std::int64_t i) const { return "the int " + std::to_string(i); }
    std::string operator()(double d) const { return "the float " + std::to_string(d); }
    std::string operator()(const std::string& s) const { return "the string '" + s + "'"; }
    std::string operator()(const std::vector<std::int64_t>& v) const {
      std::string s = "the list [";
      for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
      return s + "]";
    }
    std::string operator()(DType d) const { return std::string("the dtype ") + dtype_name(d); }
  };
  return std::visit(V{}, v);
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Tensor:
      return "Tensor";
    case Kind::Tensors:
      return "list of Tensors";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::Ints:
      return "int or list of ints";
    case Kind::DType:
      return "dtype";
    case Kind::OptionalInt:
      return "int or None";
    case Kind::Any:
      return "int or list of ints";
  }
  return "?";
}

ApiRegistration::ApiRegistration(std::vector<Function> entries) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (auto& e : entries) {
    if (r.by_name.count(e.name)) throw std::logic_error("[api] '" + e.name + "' is registered twice");
    r.owned.push_back(std::make_unique<Function>(std::move(e)));
    r.by_name[r.owned.back()->name] = r.owned.back().get();
  }
  r.sorted.clear();
  for (const auto& [name, f] : r.by_name) r.sorted.push_back(f);
}

const std::vector<const Function*>& functions() { return registry().sorted; }

const Function* find(const std::string& name) {
  const auto& m = registry().by_name;
  auto it = m.find(name);
  return it == m.end() ? nullptr : it->second;
}

namespace detail {

// A value of the wrong kind is a DTypeError (TypeError in Python, as TensorFlow's); a value of the right
// kind out of range is a ValueError.
void bad_value(const Function& f, const Param& p, const Value& v, const char* want, bool wrong_kind) {
  const std::string msg = "[" + f.name + "] argument '" + p.name + "' must be " + want + ", got " + describe(v);
  if (wrong_kind) throw DTypeError(msg);
  throw ValueError(msg);
}

void check_count(const Function& f, std::size_t values) {
  if (values != f.params.size()) {
    throw ValueError("[" + f.name + "] takes " + std::to_string(f.params.size()) + " arguments, got " +
                     std::to_string(values));
  }
}

Tensor Convert<Tensor>::get(const Function& f, const Param& p, const Value& v) {
  if (const auto* t = std::get_if<Tensor>(&v); t && t->defined()) return *t;
  bad_value(f, p, v, "a Tensor");
}
std::vector<Tensor> Convert<std::vector<Tensor>>::get(const Function& f, const Param& p, const Value& v) {
  if (const auto* t = std::get_if<std::vector<Tensor>>(&v)) return *t;
  if (const auto* t = std::get_if<Tensor>(&v); t && t->defined()) return {*t};
  bad_value(f, p, v, "a list of Tensors");
}
bool Convert<bool>::get(const Function& f, const Param& p, const Value& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  bad_value(f, p, v, "True or False");
}
std::int64_t Convert<std::int64_t>::get(const Function& f, const Param& p, const Value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  bad_value(f, p, v, "an int");
}
int Convert<int>::get(const Function& f, const Param& p, const Value& v) {
  const std::int64_t i = Convert<std::int64_t>::get(f, p, v);
  if (i < std::numeric_limits<int>::min() || i > std::numeric_limits<int>::max())
    bad_value(f, p, v, "a 32-bit int", false);
  return static_cast<int>(i);
}
double Convert<double>::get(const Function& f, const Param& p, const Value& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  bad_value(f, p, v, "a number");
}
std::string Convert<std::string>::get(const Function& f, const Param& p, const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  bad_value(f, p, v, "a string");
}
// None is "every axis" (TensorFlow's axis=None) or an empty list; one int is a list of one.
std::vector<std::int64_t> Convert<std::vector<std::int64_t>>::get(const Function& f, const Param& p, const Value& v) {
  if (std::holds_alternative<std::monostate>(v)) return {};
  if (const auto* l = std::get_if<std::vector<std::int64_t>>(&v)) return *l;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return {*i};
  bad_value(f, p, v, "an int or a list of ints");
}
Shape Convert<Shape>::get(const Function& f, const Param& p, const Value& v) {
  if (const auto* l = std::get_if<std::vector<std::int64_t>>(&v)) {
    for (auto d : *l)
      if (d < 0) bad_value(f, p, v, "a shape of non-negative dims", false);
    return Shape(*l);
  }
  if (const auto* i = std::get_if<std::int64_t>(&v)) {
    if (*i < 0) bad_value(f, p, v, "a shape of non-negative dims", false);
    return Shape{*i};
  }
  bad_value(f, p, v, "a shape (a list of non-negative ints)");
}
DType Convert<DType>::get(const Function& f, const Param& p, const Value& v) {
  if (const auto* d = std::get_if<DType>(&v)) return *d;
  if (const auto* s = std::get_if<std::string>(&v)) {
    for (DType d : {DType::Bool, DType::Int32, DType::Int64, DType::Float32, DType::Float64})
      if (*s == dtype_name(d)) return d;
    bad_value(f, p, v, "a dtype (bool, int32, int64, float32, float64)", false);
  }
  bad_value(f, p, v, "a dtype (bool, int32, int64, float32, float64)");
}
std::optional<std::uint64_t> Convert<std::optional<std::uint64_t>>::get(const Function& f, const Param& p,
                                                                        const Value& v) {
  if (std::holds_alternative<std::monostate>(v)) return std::nullopt;
  if (const auto* i = std::get_if<std::int64_t>(&v)) {
    if (*i < 0) bad_value(f, p, v, "a non-negative int or None", false);
    return static_cast<std::uint64_t>(*i);
  }
  bad_value(f, p, v, "a non-negative int or None");
}

namespace {
std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

Value parse_default(const std::string& text, const std::string& spec) {
  const std::string t = trim(text);
  auto bad = [&] { throw std::logic_error("[api] cannot read the default '" + t + "' in '" + spec + "'"); };
  if (t == "None") return std::monostate{};
  if (t == "True") return true;
  if (t == "False") return false;
  if (t.size() >= 2 && t.front() == '\'' && t.back() == '\'') return t.substr(1, t.size() - 2);
  for (DType d : {DType::Bool, DType::Int32, DType::Int64, DType::Float32, DType::Float64})
    if (t == dtype_name(d)) return d;
  if (t.size() >= 2 && t.front() == '[' && t.back() == ']') {
    std::vector<std::int64_t> out;
    std::string item;
    for (char c : t.substr(1, t.size() - 2) + ",") {
      if (c != ',') {
        item += c;
        continue;
      }
      if (!trim(item).empty()) out.push_back(std::stoll(trim(item)));
      item.clear();
    }
    return out;
  }
  try {
    std::size_t used = 0;
    if (t.find_first_of(".eE") == std::string::npos) {
      const long long i = std::stoll(t, &used);
      if (used == t.size()) return static_cast<std::int64_t>(i);
    } else {
      const double d = std::stod(t, &used);
      if (used == t.size()) return d;
    }
  } catch (const std::exception&) {
  }
  bad();
  return {};
}
}  // namespace

std::vector<std::pair<std::string, std::optional<Value>>> parse_params(const std::string& spec) {
  std::vector<std::pair<std::string, std::optional<Value>>> out;
  std::string item;
  int depth = 0;
  auto flush = [&] {
    const std::string t = trim(item);
    item.clear();
    if (t.empty()) return;
    const auto eq = t.find('=');
    const std::string name = trim(t.substr(0, eq));
    if (name.empty()) throw std::logic_error("[api] a parameter without a name in '" + spec + "'");
    out.emplace_back(
        name, eq == std::string::npos ? std::nullopt : std::optional<Value>(parse_default(t.substr(eq + 1), spec)));
  };
  bool quoted = false;
  for (char c : spec) {
    if (c == '\'') quoted = !quoted;
    if (c == '[' && !quoted) ++depth;
    if (c == ']' && !quoted) --depth;
    if (c == ',' && depth == 0 && !quoted) {
      flush();
    } else {
      item += c;
    }
  }
  flush();
  return out;
}

}  // namespace detail

Tensor true_divide(const Tensor& a, const Tensor& b) {
  if (a.defined() && b.defined() && is_integral(a.dtype()) && is_integral(b.dtype()))
    return div(cast(a, DType::Float64), cast(b, DType::Float64));
  return div(a, b);
}

}  // namespace duet::api
