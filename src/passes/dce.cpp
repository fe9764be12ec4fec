// Dead-code elimination: keeps what the outputs need, every stateful node (variable writes, random
// draws, host functions run for their effects) and the placeholders (they define the arguments).
#include <unordered_set>

#include "passes/pass.h"

namespace duet::passes {
namespace {

class DeadCodeElimination : public Pass {
 public:
  const char* name() const override { return "dce"; }
  std::string run(graph::Graph& g) override {
    std::unordered_set<const graph::Node*> live;
    std::vector<const graph::Node*> work;
    auto mark = [&](const graph::Node* n) {
      if (live.insert(n).second) work.push_back(n);
    };
    for (const auto& v : g.outputs()) mark(v.node);
    for (const auto& n : g.nodes())
      if (n->op->has(kStateful) || n->op == &graph::placeholder_op()) mark(n.get());
    while (!work.empty()) {
      const graph::Node* n = work.back();
      work.pop_back();
      for (const auto& v : n->inputs) mark(v.node);
      for (const auto* c : n->control_inputs) mark(c);
    }
    std::size_t before = g.nodes().size();
    g.remove_if([&](const graph::Node* n) { return !live.count(n); });
    return "removed " + std::to_string(before - g.nodes().size()) + " nodes";
  }
};

}  // namespace

std::unique_ptr<Pass> dead_code_elimination() { return std::make_unique<DeadCodeElimination>(); }

}  // namespace duet::passes
