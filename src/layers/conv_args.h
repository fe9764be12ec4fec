#pragma once
// Argument checks the convolution layers share: Keras's rules, with errors naming the layer class.
#include <string>
#include <vector>

#include "duet/error.h"

namespace duet::layers::conv_args {

inline std::string ints_str(const std::vector<std::int64_t>& v) {
  std::string s = "(";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

// `rank` positive numbers for kernel_size, strides, dilation_rate.
inline void positive(const std::string& cls, const char* what, const std::vector<std::int64_t>& v, std::size_t rank) {
  bool ok = v.size() == rank;
  for (auto x : v) ok = ok && x > 0;
  if (!ok) {
    throw ValueError("[" + cls + "] " + what + " must be " + std::to_string(rank) + " positive number" +
                     (rank == 1 ? "" : "s") + ", got " + ints_str(v));
  }
}

inline void filters_positive(const std::string& cls, std::int64_t filters) {
  if (filters <= 0) throw ValueError("[" + cls + "] filters must be positive, got " + std::to_string(filters));
}

inline void padding_one_of(const std::string& cls, const std::string& p, bool causal) {
  if (p == "valid" || p == "same" || (causal && p == "causal")) return;
  throw ValueError("[" + cls + "] padding must be \"valid\", \"same\"" + (causal ? ", or \"causal\"" : "") +
                   ", got \"" + p + "\"");
}

// output_padding: none, or `rank` numbers each in [0, stride).
inline void output_padding(const std::string& cls, const std::vector<std::int64_t>& op,
                           const std::vector<std::int64_t>& strides) {
  if (op.empty()) return;
  bool ok = op.size() == strides.size();
  for (std::size_t i = 0; ok && i < op.size(); ++i) ok = op[i] >= 0 && op[i] < strides[i];
  if (!ok) {
    throw ValueError("[" + cls + "] output_padding " + ints_str(op) + " must have one number per dim, each >= 0 " +
                     "and less than its stride (strides " + ints_str(strides) +
                     "): it picks one of the output sizes a strided convolution maps to the same input size");
  }
}

}  // namespace duet::layers::conv_args
