// Sums of matrix products become one product. A tree of additions whose leaves include two or more 2-D
// matmuls (same transposes, fully known shapes) becomes one MatMulSum node: its kernel packs the terms'
// operands along the contraction dimension and runs one large GEMM, instead of many small ones and an
// addition per term. The case that matters: a weight used at every step of a recurrent net, whose
// gradient is the sum of one product per step (an LSTM over 50 steps: 50 products of 32 rows each become
// one of 1600 rows). Only additions and products read by nothing else are absorbed. Where packing the
// operands would cost more memory traffic than the additions it saves (a recurrent cell's
// x @ wx + h @ wh + b), the node accumulates one GEMM per term into its output instead.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "ops/fused.h"
#include "passes/pass.h"

namespace duet::passes {
namespace {

class MatMulSumPass : public Pass {
 public:
  const char* name() const override { return "matmul_sum"; }

  std::string run(graph::Graph& g) override {
    const Readers readers = readers_of(g);

    // A plain 2-D addition of values of its own (fully known) shape and dtype, or of a row broadcast
    // over it (a bias: (n) or (1, n)).
    auto is_add = [](const graph::Node* n) {
      if (n->op != &add_op() || !n->control_inputs.empty()) return false;
      const TensorSpec& o = n->outputs[0];
      if (o.shape.rank() != 2 || !o.shape.is_fully_known()) return false;
      int full = 0;
      for (const auto& v : n->inputs) {
        const TensorSpec& s = v.node->outputs[static_cast<std::size_t>(v.index)];
        if (s.dtype != o.dtype) return false;
        if (s.shape == o.shape)
          ++full;
        else if (!(s.shape == Shape{o.shape[1]} || s.shape == Shape{1, o.shape[1]}))
          return false;
      }
      return full >= 1;
    };
    // Absorbed into its reader's tree: an addition read only by another such addition.
    auto inner = [&](const graph::Node* n) {
      const graph::Node* r = readers.sole(n);
      return is_add(n) && r && is_add(r);
    };
    auto is_term = [&](const graph::Value& v) {
      const graph::Node* n = v.node;
      if (n->op != &matmul_op() || !n->control_inputs.empty() || readers.of(n) != 1) return false;
      for (const auto& in : n->inputs) {
        const Shape& s = in.node->outputs[static_cast<std::size_t>(in.index)].shape;
        if (s.rank() != 2 || !s.is_fully_known()) return false;
      }
      return true;
    };

    std::unordered_map<const graph::Node*, graph::Node*> replaced_by;
    std::unordered_set<const graph::Node*> removed;
    int products = 0;
    const std::size_t count = g.nodes().size();  // g.add() appends (and may reallocate) as we go
    for (std::size_t i = 0; i < count; ++i) {
      graph::Node* root = g.nodes()[i].get();
      if (!is_add(root) || inner(root)) continue;
      // The tree's leaves, left to right.
      std::vector<graph::Value> leaves;
      std::vector<graph::Node*> adds;
      std::vector<graph::Value> work{{root, 0}};
      while (!work.empty()) {
        graph::Value v = work.back();
        work.pop_back();
        if (v.node == root || (v.index == 0 && inner(v.node))) {
          adds.push_back(v.node);
          for (auto it = v.node->inputs.rbegin(); it != v.node->inputs.rend(); ++it) work.push_back(*it);
        } else {
          leaves.push_back(v);
        }
      }
      // Products with the first product's transposes are terms; everything else is an addend.
      std::vector<graph::Node*> terms;
      std::vector<graph::Value> addends;
      bool ta = false, tb = false;
      for (const auto& v : leaves) {
        // A product broadcast over the sum (a (1, n) row added to an (m, n) value) is an addend.
        if (is_term(v) && v.node->outputs[0].shape == root->outputs[0].shape) {
          const bool a = v.node->attrs.b("transpose_a"), b = v.node->attrs.b("transpose_b");
          if (terms.empty()) {
            ta = a;
            tb = b;
          }
          if (a == ta && b == tb) {
            terms.push_back(v.node);
            continue;
          }
        }
        addends.push_back(v);
      }
      // One product joins a sum too when an addend has the output's whole shape (a step's stacked input
      // projection plus h @ wh: the output starts as the addends' sum and the product accumulates into it,
      // which saves a pass over the output; a product plus only a bias stays, as the dense layers' does).
      const bool full_addend = std::any_of(addends.begin(), addends.end(), [&](const graph::Value& v) {
        return v.node->outputs[static_cast<std::size_t>(v.index)].shape == root->outputs[0].shape;
      });
      if (terms.empty() || (terms.size() < 2 && !full_addend)) continue;
      // Packing copies every operand once; it pays when that is less than the additions it saves (each
      // reads two outputs and writes one). Otherwise (x @ wx + h @ wh + b would copy both weights to save
      // two additions) the products accumulate into the output one after another, which starts as the
      // sum of the addends: no packing, no additions.
      std::int64_t packed = 0;
      for (graph::Node* t : terms)
        for (const auto& in : t->inputs)
          packed += in.node->outputs[static_cast<std::size_t>(in.index)].shape.num_elements();
      const std::int64_t saved =
          3 * static_cast<std::int64_t>(terms.size() - 1) * root->outputs[0].shape.num_elements();
      const bool pack = packed <= saved;
      std::vector<graph::Value> inputs;
      for (graph::Node* t : terms) inputs.push_back(t->inputs[0]);
      for (graph::Node* t : terms) inputs.push_back(t->inputs[1]);
      inputs.insert(inputs.end(), addends.begin(), addends.end());
      graph::Node* f = g.add(&matmul_sum_op(), inputs,
                             {{"transpose_a", ta},
                              {"transpose_b", tb},
                              {"terms", static_cast<std::int64_t>(terms.size())},
                              {"pack", pack}},
                             root->outputs);
      g.replace_uses({root, 0}, {f, 0});
      inherit_origin(f, root);
      replaced_by[root] = f;
      for (graph::Node* a : adds) removed.insert(a);
      for (graph::Node* t : terms) removed.insert(t);
      products += static_cast<int>(terms.size());
    }
    if (replaced_by.empty()) return "merged 0 sums of products";
    // Every input of a tree is defined before its root, where the new node goes.
    g.place_replacements(replaced_by, removed);
    return "merged " + std::to_string(products) + " products into " + std::to_string(replaced_by.size()) + " sums";
  }
};

}  // namespace

std::unique_ptr<Pass> matmul_sum() { return std::make_unique<MatMulSumPass>(); }

}  // namespace duet::passes
