// Two rewrites around weights read many times in one graph (a recurrent net reads each weight at every
// step, and its backward pass multiplies by each weight's transpose at every step):
//  - merge_variable_reads: reads of one variable with no possible write between them (no stateful op
//    other than a read, no op running subgraphs) see the same value, so later ones use the first.
//  - transposed_operands: a value used as the transposed right operand of several products with few rows
//    (dh = dz @ wh^T) is transposed once into its own buffer, and the products read it untransposed
//    (a transposed B costs oneDNN a repack per call: 32 x 512 x 128 ran 18.5 us vs 15 us untransposed).
#include <algorithm>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "ops/fused.h"
#include "passes/pass.h"

namespace duet::passes {
namespace {

class MergeVariableReads : public Pass {
 public:
  const char* name() const override { return "merge_variable_reads"; }
  std::string run(graph::Graph& g) override {
    std::unordered_map<const VariableImpl*, graph::Node*> first_read;  // since the last possible write
    std::unordered_map<const graph::Node*, graph::Node*> merged_into;
    for (const auto& sp : g.nodes()) {
      graph::Node* n = sp.get();
      if (n->op == &read_variable_op()) {
        const VariableImpl* v = n->attrs.var("var").get();
        auto [it, inserted] = first_read.emplace(v, n);
        if (!inserted) {
          g.replace_uses({n, 0}, {it->second, 0});
          merged_into[n] = it->second;
        }
      } else if (n->op->has(kStateful) || n->op->has(kRunsGraphs)) {
        first_read.clear();
      }
    }
    if (merged_into.empty()) return "merged 0 reads";
    // A node ordered after a removed read is ordered after what that read was ordered after (through
    // chains of removed reads).
    std::function<void(graph::Node*, std::vector<graph::Node*>&)> expand = [&](graph::Node* c,
                                                                               std::vector<graph::Node*>& out) {
      if (!merged_into.count(c)) {
        if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
        return;
      }
      for (graph::Node* cc : c->control_inputs) expand(cc, out);
    };
    for (const auto& sp : g.nodes()) {
      if (merged_into.count(sp.get())) continue;
      auto& ci = sp->control_inputs;
      if (std::none_of(ci.begin(), ci.end(), [&](graph::Node* c) { return merged_into.count(c) != 0; })) continue;
      std::vector<graph::Node*> out;
      for (graph::Node* c : ci) expand(c, out);
      ci = std::move(out);
    }
    g.remove_if([&](const graph::Node* n) { return merged_into.count(n) != 0; });
    return "merged " + std::to_string(merged_into.size()) + " reads";
  }
};

constexpr std::int64_t kFewRows = 64;  // as the matmul kernel's primitive path for transposed B
constexpr int kMinUses = 2;

class TransposedOperands : public Pass {
 public:
  const char* name() const override { return "transposed_operands"; }
  std::string run(graph::Graph& g) override {
    // Products op(a) b^T with few rows, grouped by their b.
    std::unordered_map<const graph::Node*, std::vector<graph::Node*>> by_operand;
    std::vector<graph::Value> order;
    for (const auto& sp : g.nodes()) {
      graph::Node* n = sp.get();
      if (n->op != &matmul_op() || !n->attrs.b("transpose_b") || n->attrs.b("transpose_a")) continue;
      const graph::Value b = n->inputs[1];
      const TensorSpec& bs = b.node->outputs[static_cast<std::size_t>(b.index)];
      const TensorSpec& out = n->outputs[0];
      if (bs.shape.rank() != 2 || !bs.shape.is_fully_known() || out.shape.rank() != 2 || out.shape[0] < 0 ||
          out.shape[0] > kFewRows || bs.dtype != DType::Float32 || b.index != 0)
        continue;
      auto& users = by_operand[b.node];
      if (users.empty()) order.push_back(b);
      users.push_back(n);
    }
    int rewritten = 0, transposes = 0;
    for (const graph::Value& b : order) {
      auto& users = by_operand[b.node];
      if (static_cast<int>(users.size()) < kMinUses) continue;
      const TensorSpec& bs = b.node->outputs[0];
      graph::Node* t = g.add(&transpose_op(), {b}, {{"perm", std::vector<std::int64_t>{1, 0}}},
                             {TensorSpec{bs.dtype, Shape{bs.shape[1], bs.shape[0]}}});
      t->scope = b.node->scope;
      // The transpose runs right after its operand is defined (the new node was appended last).
      auto& nodes = g.mutable_nodes();
      std::shared_ptr<graph::Node> keep = nodes.back();
      nodes.pop_back();
      auto at = std::find_if(nodes.begin(), nodes.end(), [&](const auto& p) { return p.get() == b.node; });
      nodes.insert(at + 1, keep);
      for (graph::Node* m : users) {
        m->inputs[1] = {t, 0};
        m->attrs.set("transpose_b", false);
        ++rewritten;
      }
      ++transposes;
    }
    return "transposed " + std::to_string(transposes) + " operands once for " + std::to_string(rewritten) + " products";
  }
};

}  // namespace

std::unique_ptr<Pass> merge_variable_reads() { return std::make_unique<MergeVariableReads>(); }
std::unique_ptr<Pass> transposed_operands() { return std::make_unique<TransposedOperands>(); }

}  // namespace duet::passes
