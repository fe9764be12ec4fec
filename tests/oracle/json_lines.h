// What the oracle dumpers share: tensors as JSON ({"dtype", "shape", "values"}, NaN and infinities as JSON5
// words Python's json reads, -0.0 kept), and the cotangent pattern the gradients are taken against.
#pragma once
#include <duet/duet.h>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace oracle {

inline std::string num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0 && std::signbit(v)) return "-0.0";  // "-0" would read back as the integer 0
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

inline std::string arr(const duet::Tensor& t) {
  std::ostringstream os;
  os << "{\"dtype\":\"" << duet::dtype_name(t.dtype()) << "\",\"shape\":[";
  for (int d = 0; d < t.rank(); ++d) os << (d ? "," : "") << t.shape()[d];
  os << "],\"values\":[";
  auto v = t.to_vector<double>();
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << num(v[i]);
  os << "]}";
  return os.str();
}

inline std::string quote(const std::string& s) {
  std::string o = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') o += '\\';
    o += ch == '\n' ? ' ' : ch;
  }
  return o + "\"";
}

// The cotangent of an output: 0.5, 1.1, -0.3, ... (a fixed, non-symmetric pattern).
inline duet::Tensor cotangent(const duet::Tensor& out) {
  std::vector<double> v(static_cast<std::size_t>(out.num_elements()));
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = 0.5 + 0.6 * static_cast<double>(i % 5) - 0.35 * static_cast<double>(i % 3);
  return duet::constant(v, out.shape(), out.dtype());
}

}  // namespace oracle
