// Constant folding: a node whose inputs are all constants is computed now, with the op's real CPU kernel,
// and becomes a constant. Stateful, random and not-foldable ops are left alone, and so are results
// larger than kMaxFoldedElements (folding must not bloat the graph).
#include "passes/pass.h"

namespace duet::passes {
namespace {

constexpr std::int64_t kMaxFoldedElements = 1 << 16;

class ConstantFolding : public Pass {
 public:
  const char* name() const override { return "constant_folding"; }
  std::string run(graph::Graph& g) override {
    int folded = 0;
    for (const auto& sp : g.nodes()) {
      graph::Node* n = sp.get();
      if (n->op == &graph::const_op() || n->op == &graph::placeholder_op() || n->outputs.size() != 1) continue;
      if (n->op->has(kStateful) || n->op->has(kRandom) || n->op->has(kNotFoldable)) continue;
      bool all_const = !n->inputs.empty();
      for (const auto& v : n->inputs) all_const = all_const && v.node->op == &graph::const_op();
      if (!all_const) continue;
      std::vector<Tensor> ins;
      for (const auto& v : n->inputs) ins.push_back(v.node->constant);
      Tensors out = run_kernel(*n->op, ins, n->attrs);
      if (out[0].num_elements() > kMaxFoldedElements) continue;
      // The node becomes a constant in place (keeps its position, name and uses).
      n->constant = out[0];
      n->op = &graph::const_op();
      n->inputs.clear();
      n->attrs = Attrs();
      ++folded;
    }
    return "folded " + std::to_string(folded) + " nodes";
  }
};

}  // namespace

std::unique_ptr<Pass> constant_folding() { return std::make_unique<ConstantFolding>(); }

}  // namespace duet::passes
