#include "duet/attrs.h"

#include <algorithm>
#include <cstdio>

#include "duet/error.h"
#include "duet/variable.h"

namespace duet {

Attrs::Attrs(std::initializer_list<std::pair<std::string, AttrValue>> items) {
  for (auto& [k, v] : items) set(k, v);
}

Attrs& Attrs::set(std::string key, AttrValue v) {
  auto it =
      std::lower_bound(items_.begin(), items_.end(), key, [](auto& p, const std::string& k) { return p.first < k; });
  if (it != items_.end() && it->first == key) {
    it->second = std::move(v);
  } else {
    items_.insert(it, {std::move(key), std::move(v)});
  }
  return *this;
}

namespace {
// Kernels look attrs up on every call: keys that differ in length or last character (transpose_a vs
// transpose_b) are told apart without a memcmp call.
inline bool same_key(const std::string& a, std::string_view b) {
  return a.size() == b.size() && (b.empty() || a.back() == b.back()) && std::string_view(a) == b;
}
}  // namespace

bool Attrs::has(std::string_view key) const {
  for (auto& p : items_)
    if (same_key(p.first, key)) return true;
  return false;
}

const AttrValue& Attrs::get(std::string_view key) const {
  for (auto& p : items_)
    if (same_key(p.first, key)) return p.second;
  throw ValueError("[Attrs] missing attribute '" + std::string(key) + "' (have: " + str() + ")");
}

void Attrs::wrong_type(std::string_view key, const AttrValue& v, std::size_t wanted) const {
  static const char* names[] = {"int", "float", "bool", "string", "ints", "dtype", "shape", "variable", "callable"};
  throw ValueError("[Attrs] attribute '" + std::string(key) + "' holds a " + names[v.index()] + " (" +
                   attr_value_str(v) + "), not a " + names[wanted]);
}

std::size_t Attrs::hash() const {
  std::size_t h = 1469598103934665603ull;
  auto mix = [&](std::size_t v) { h = (h ^ v) * 1099511628211ull; };
  for (auto& [k, v] : items_) {
    mix(std::hash<std::string>{}(k));
    mix(v.index());
    std::visit(
        [&](auto& x) {
          using X = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<X, std::vector<std::int64_t>>) {
            for (auto e : x) mix(static_cast<std::size_t>(e));
          } else if constexpr (std::is_same_v<X, Shape>) {
            mix(hash_value(x));
          } else if constexpr (std::is_same_v<X, VarRef> || std::is_same_v<X, FnRef>) {
            mix(std::hash<const void*>{}(x.get()));
          } else if constexpr (std::is_same_v<X, DType>) {
            mix(static_cast<std::size_t>(x));
          } else {
            mix(std::hash<X>{}(x));
          }
        },
        v);
  }
  return h;
}

std::string attr_value_str(const AttrValue& v) {
  return std::visit(
      [](auto& x) -> std::string {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, std::int64_t>) {
          return std::to_string(x);
        } else if constexpr (std::is_same_v<X, double>) {
          char b[32];
          std::snprintf(b, sizeof b, "%g", x);
          return b;
        } else if constexpr (std::is_same_v<X, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<X, std::string>) {
          return "\"" + x + "\"";
        } else if constexpr (std::is_same_v<X, std::vector<std::int64_t>>) {
          std::string s = "[";
          for (std::size_t i = 0; i < x.size(); ++i) s += (i ? ", " : "") + std::to_string(x[i]);
          return s + "]";
        } else if constexpr (std::is_same_v<X, DType>) {
          return dtype_name(x);
        } else if constexpr (std::is_same_v<X, Shape>) {
          return x.str();
        } else if constexpr (std::is_same_v<X, VarRef>) {
          return x ? "var:" + variable_name(x) : "var:null";
        } else {
          return x ? x->describe() : "fn:null";
        }
      },
      v);
}

std::string Attrs::str() const {
  std::string s;
  for (auto& [k, v] : items_) {
    if (!s.empty()) s += ", ";
    s += k + "=" + attr_value_str(v);
  }
  return s;
}

}  // namespace duet
