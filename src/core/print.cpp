// TensorFlow/NumPy-style printing: values aligned, floats with the fewest digits that round-trip
// (at most 8 after the point), long tensors elided with "..." (first and last 3 per dim).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

#include "core/convert.h"
#include "core/tensor_impl.h"

namespace duet {
namespace {

constexpr std::int64_t kElideThreshold = 1000;
constexpr std::int64_t kEdge = 3;

struct Formatter {
  DType dtype;
  bool scientific = false;
  int digits = 0;  // fractional digits (or mantissa digits in scientific)

  // Fewest fractional digits (<= 8) for which v prints back to itself at the tensor's precision.
  static int digits_needed(double v, bool is_f32, bool sci) {
    char buf[64];
    for (int d = 0; d <= 8; ++d) {
      std::snprintf(buf, sizeof buf, sci ? "%.*e" : "%.*f", d, v);
      double back = std::strtod(buf, nullptr);
      if (is_f32 ? static_cast<float>(back) == static_cast<float>(v) : back == v) return d;
    }
    return 8;
  }

  void prepare(const std::vector<double>& vals) {
    if (!is_floating(dtype)) return;
    double max_abs = 0, min_abs = INFINITY;
    for (double v : vals) {
      if (!std::isfinite(v)) continue;
      double a = std::fabs(v);
      max_abs = std::max(max_abs, a);
      if (a > 0) min_abs = std::min(min_abs, a);
    }
    scientific = max_abs >= 1e8 || (min_abs < 1e-4 && min_abs > 0) || (max_abs / min_abs > 1e3 && min_abs < 1e-1);
    bool f32 = dtype == DType::Float32;
    for (double v : vals)
      if (std::isfinite(v)) digits = std::max(digits, digits_needed(v, f32, scientific));
  }

  // Digits for one element: the fewest that round-trip (NumPy's "maxprec" mode), except in scientific.
  std::string fmt(double v) const {
    char buf[64];
    if (dtype == DType::Bool) return v != 0 ? "True" : "False";
    if (!is_floating(dtype)) {
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
      return buf;
    }
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (scientific) {
      std::snprintf(buf, sizeof buf, "%.*e", std::max(digits, 1), v);
      return buf;
    }
    int d = digits_needed(v, dtype == DType::Float32, false);
    std::snprintf(buf, sizeof buf, "%.*f", d, v);
    std::string s = buf;
    if (d == 0) s += ".";
    return s;
  }
};

// Indices shown along a dim of size n (all, or first and last kEdge with -1 marking the gap).
std::vector<std::int64_t> shown(std::int64_t n, bool elide) {
  std::vector<std::int64_t> idx;
  if (!elide || n <= 2 * kEdge) {
    for (std::int64_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    for (std::int64_t i = 0; i < kEdge; ++i) idx.push_back(i);
    idx.push_back(-1);
    for (std::int64_t i = n - kEdge; i < n; ++i) idx.push_back(i);
  }
  return idx;
}

void collect(const Shape& s, int d, std::int64_t off, bool elide, const std::vector<double>& all,
             std::vector<double>& out) {
  if (d == s.rank()) {
    out.push_back(all[static_cast<std::size_t>(off)]);
    return;
  }
  std::int64_t stride = 1;
  for (int k = d + 1; k < s.rank(); ++k) stride *= s[k];
  for (auto i : shown(s[d], elide))
    if (i >= 0) collect(s, d + 1, off + i * stride, elide, all, out);
}

// Column layout: values are right-aligned up to the decimal point and left-aligned after it.
struct Align {
  std::size_t left = 0, right = 0;
  static std::size_t point(const std::string& v) {
    auto p = v.find('.');
    return p == std::string::npos ? v.size() : p;
  }
  void fit(const std::string& v) {
    left = std::max(left, point(v));
    right = std::max(right, v.size() - point(v));
  }
  void put(const std::string& v, std::string& out) const {
    std::size_t p = point(v);
    out.append(left - p, ' ');
    out += v;
    out.append(right - (v.size() - p), ' ');
  }
};

void render(const Shape& s, int d, std::int64_t off, bool elide, const std::vector<double>& all, const Formatter& f,
            const Align& align, std::string& out) {
  if (d == s.rank()) {
    align.put(f.fmt(all[static_cast<std::size_t>(off)]), out);
    return;
  }
  std::int64_t stride = 1;
  for (int k = d + 1; k < s.rank(); ++k) stride *= s[k];
  out += '[';
  bool first = true;
  for (auto i : shown(s[d], elide)) {
    if (!first) {
      if (d == s.rank() - 1) {
        out += ' ';
      } else {
        const int newlines = s.rank() - d - 1;
        out.append(static_cast<std::size_t>(newlines), '\n');
        const int spaces = d + 1;
        out.append(static_cast<std::size_t>(spaces), ' ');
      }
    }
    first = false;
    if (i < 0) {
      out += "...";
      continue;
    }
    render(s, d + 1, off + i * stride, elide, all, f, align, out);
  }
  out += ']';
}

}  // namespace

std::string Tensor::str() const {
  if (!impl_) return "Tensor(<undefined>)";
  if (impl_->node) {
    return "SymbolicTensor(shape=" + impl_->shape.str() + ", dtype=" + dtype_name(impl_->dtype) + ", op=" + op_name() +
           ")";
  }
  const Shape& s = impl_->shape;
  std::vector<double> all(static_cast<std::size_t>(impl_->numel));
  convert_elements(impl_->data, impl_->dtype, all.data(), DType::Float64, impl_->numel);
  if (impl_->dtype == DType::Int64) {  // keep full int64 precision
    const auto* p = static_cast<const std::int64_t*>(impl_->data);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<double>(p[i]);
  }
  bool elide = impl_->numel > kElideThreshold;
  Formatter f{impl_->dtype};
  std::string body;
  if (s.rank() == 0) {
    f.prepare(all);
    body = f.fmt(all[0]);
    if (is_floating(impl_->dtype) && body.back() == '.') body += '0';
  } else {
    std::vector<double> vis;
    collect(s, 0, 0, elide, all, vis);
    f.prepare(vis);
    Align align;
    for (double v : vis) align.fit(f.fmt(v));
    render(s, 0, 0, elide, all, f, align, body);
  }
  std::string head = s.rank() >= 2 ? "Tensor(\n" : "Tensor(";
  return head + body + ", shape=" + s.str() + ", dtype=" + dtype_name(impl_->dtype) + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace duet
