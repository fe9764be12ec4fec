// Common-subexpression elimination: two nodes with the same op, the same inputs (in either order for
// commutative ops) and equal attrs compute the same value, so later uses read the first one. Small
// constants with equal values merge too. Stateful and random nodes never merge.
#include <cstring>
#include <unordered_map>

#include "core/tensor_impl.h"
#include "passes/pass.h"

namespace duet::passes {
namespace {

constexpr std::int64_t kMaxMergedConstant = 64;

struct Key {
  const OpDef* op;
  std::vector<std::pair<const graph::Node*, int>> inputs;
  const Attrs* attrs;
  const Tensor* constant;
  bool operator==(const Key& o) const {
    if (op != o.op || inputs != o.inputs || !(*attrs == *o.attrs)) return false;
    if (!constant) return true;
    const Tensor& a = *constant;
    const Tensor& b = *o.constant;
    return a.dtype() == b.dtype() && a.shape() == b.shape() &&
           std::memcmp(raw(a), raw(b), static_cast<std::size_t>(a.num_elements()) * dtype_size(a.dtype())) == 0;
  }
};

struct KeyHash {
  std::size_t operator()(const Key& k) const {
    std::size_t h = std::hash<const void*>{}(k.op) ^ k.attrs->hash();
    for (auto& [n, i] : k.inputs)
      h = (h * 1099511628211ull) ^ (std::hash<const void*>{}(n) + static_cast<std::size_t>(i));
    if (k.constant) {
      const Tensor& t = *k.constant;
      h ^= hash_value(t.shape()) * 31 + static_cast<std::size_t>(t.dtype());
      const auto* p = static_cast<const unsigned char*>(raw(t));
      for (std::size_t b = 0; b < static_cast<std::size_t>(t.num_elements()) * dtype_size(t.dtype()); ++b)
        h = (h ^ p[b]) * 1099511628211ull;
    }
    return h;
  }
};

class CommonSubexpressionElimination : public Pass {
 public:
  const char* name() const override { return "cse"; }
  std::string run(graph::Graph& g) override {
    std::unordered_map<Key, graph::Node*, KeyHash> seen;
    int merged = 0;
    for (const auto& sp : g.nodes()) {
      graph::Node* n = sp.get();
      if (n->op == &graph::placeholder_op() || n->op->has(kStateful) || n->op->has(kRandom)) continue;
      bool is_const = n->op == &graph::const_op();
      if (is_const && n->constant.num_elements() > kMaxMergedConstant) continue;
      Key k{n->op, {}, &n->attrs, is_const ? &n->constant : nullptr};
      for (const auto& v : n->inputs) k.inputs.emplace_back(v.node, v.index);
      if (n->op->has(kCommutative)) std::sort(k.inputs.begin(), k.inputs.end());
      auto [it, inserted] = seen.emplace(k, n);
      if (inserted) continue;
      for (std::size_t i = 0; i < n->outputs.size(); ++i)
        g.replace_uses({n, static_cast<int>(i)}, {it->second, static_cast<int>(i)});
      ++merged;
    }
    return "merged " + std::to_string(merged) + " nodes";
  }
};

}  // namespace

std::unique_ptr<Pass> common_subexpression_elimination() { return std::make_unique<CommonSubexpressionElimination>(); }

}  // namespace duet::passes
