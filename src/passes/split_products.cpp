// The products of a split's parts by one weight become one product. When every part of a split along the
// first axis (an input sequence split into its steps) is multiplied by the same right operand (a recurrent
// net's input weight), the parts' rows lie one after another in the split's input: one GEMM over all of
// them, split afterwards, does the work of one small GEMM per part at a large GEMM's speed. A recurrent
// net's input projection then runs once before its loop (what cuDNN's and Keras's LSTMs do by hand), and
// only h @ wh is left inside the loop. A part may be used as it is or reshaped to (rows, k) first.
#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_set>

#include "ops/fused.h"
#include "passes/pass.h"

namespace duet::passes {
namespace {

// A stacked product of at least 2 x kMinBlockFlops runs in blocks of at least kMinPartsPerBlock parts.
constexpr double kMinBlockFlops = 24e6;
constexpr std::size_t kMaxBlocks = 8, kMinPartsPerBlock = 4;

// A product that can take its rows from the stacked whole: a 2-D matmul, A not transposed, of fully known
// shapes, reading `part` (or a reshape of it to rows x k) as A.
bool stackable(const graph::Node* m, const graph::Value& part) {
  if (m->op != &matmul_op() || !m->control_inputs.empty() || m->attrs.b("transpose_a")) return false;
  const graph::Value a = m->inputs[0];
  const TensorSpec& as = a.node->outputs[static_cast<std::size_t>(a.index)];
  const TensorSpec& bs = m->inputs[1].node->outputs[static_cast<std::size_t>(m->inputs[1].index)];
  if (as.shape.rank() != 2 || bs.shape.rank() != 2 || !as.shape.is_fully_known() || !bs.shape.is_fully_known())
    return false;
  if (a == part) return true;
  return a.node->op == &reshape_op() && a.index == 0 && a.node->inputs[0] == part;
}

class SplitProductsPass : public Pass {
 public:
  const char* name() const override { return "split_products"; }

  std::string run(graph::Graph& g) override {
    // Each split part's readers, and the readers of reshapes of it (in graph order).
    std::map<std::pair<const graph::Node*, int>, std::vector<graph::Node*>> products_of;
    for (const auto& sp : g.nodes()) {
      graph::Node* n = sp.get();
      if (n->op != &matmul_op()) continue;
      graph::Value a = n->inputs[0];
      if (a.node->op == &reshape_op()) a = a.node->inputs[0];
      if (a.node->op == &split_op()) products_of[{a.node, a.index}].push_back(n);
    }
    struct Rewrite {
      graph::Node* split;
      std::vector<graph::Node*> products;  // one per part
      graph::Node* first;                  // the earliest of them: the new nodes go before it
    };
    std::vector<Rewrite> rewrites;
    std::unordered_set<const graph::Node*> taken;
    for (const auto& sp : g.nodes()) {
      graph::Node* s = sp.get();
      if (s->op != &split_op() || s->attrs.i("axis") != 0 || s->outputs.size() < 2) continue;
      const TensorSpec& xs = s->inputs[0].node->outputs[static_cast<std::size_t>(s->inputs[0].index)];
      if (!xs.shape.is_fully_known() || xs.shape.num_elements() == 0) continue;
      // Candidate right operands (value and transpose), from the first part's products.
      using Key = std::tuple<const graph::Node*, int, bool>;
      std::vector<Key> keys;
      for (graph::Node* m : products_of[{s, 0}])
        if (stackable(m, {s, 0})) keys.emplace_back(m->inputs[1].node, m->inputs[1].index, m->attrs.b("transpose_b"));
      for (const Key& key : keys) {
        std::vector<graph::Node*> chosen;
        std::int64_t k = -1;
        for (int t = 0; t < static_cast<int>(s->outputs.size()); ++t) {
          graph::Node* pick = nullptr;
          for (graph::Node* m : products_of[{s, t}]) {
            if (taken.count(m) || !stackable(m, {s, t}) ||
                Key{m->inputs[1].node, m->inputs[1].index, m->attrs.b("transpose_b")} != key)
              continue;
            const Shape& as = m->inputs[0].node->outputs[static_cast<std::size_t>(m->inputs[0].index)].shape;
            if ((k >= 0 && as[1] != k) || as[0] == 0 || m->outputs[0].dtype != xs.dtype) continue;
            k = as[1];
            pick = m;
            break;
          }
          if (!pick) break;
          chosen.push_back(pick);
        }
        if (chosen.size() != s->outputs.size()) continue;
        for (graph::Node* m : chosen) taken.insert(m);
        rewrites.push_back({s, chosen, nullptr});
        break;
      }
    }
    if (rewrites.empty()) return "stacked 0 products";

    std::unordered_map<const graph::Node*, std::size_t> pos;
    for (std::size_t i = 0; i < g.nodes().size(); ++i) pos[g.nodes()[i].get()] = i;
    std::unordered_map<const graph::Node*, std::vector<graph::Node*>> before;  // new nodes, by where they go
    std::unordered_set<const graph::Node*> removed, fresh;
    std::unordered_map<const graph::Node*, std::vector<graph::Node*>> readers_of_product;
    for (const auto& sp : g.nodes())
      for (const auto& v : sp->inputs)
        if (v.node->op == &matmul_op()) readers_of_product[v.node].push_back(sp.get());
    int products = 0;
    for (Rewrite& r : rewrites) {
      r.first = *std::min_element(r.products.begin(), r.products.end(),
                                  [&](const graph::Node* a, const graph::Node* b) { return pos[a] < pos[b]; });
      graph::Node* m0 = r.products[0];
      const graph::Value x = r.split->inputs[0];
      const TensorSpec& xs = x.node->outputs[static_cast<std::size_t>(x.index)];
      const std::int64_t k = m0->inputs[0].node->outputs[static_cast<std::size_t>(m0->inputs[0].index)].shape[1];
      const std::int64_t rows = xs.shape.num_elements() / k, n = m0->outputs[0].shape[1];
      graph::Node* stacked = g.add(&reshape_op(), {x}, {{"shape", std::vector<std::int64_t>{rows, k}}},
                                   {TensorSpec{xs.dtype, Shape{rows, k}}});
      // In blocks of parts when it is large: the first block's product runs before the loop, the others can
      // run on the plan's second lane (exec/lanes.h) while the loop walks the first block's steps.
      const std::size_t parts = r.products.size();
      const double flops = 2.0 * static_cast<double>(rows) * static_cast<double>(k) * static_cast<double>(n);
      const std::size_t blocks = std::max<std::size_t>(
          1, std::min({kMaxBlocks, parts / kMinPartsPerBlock, static_cast<std::size_t>(flops / kMinBlockFlops)}));
      std::vector<graph::Node*> made{stacked};
      graph::Node* block_split = nullptr;
      if (blocks > 1) {
        std::vector<std::int64_t> block_rows;
        std::vector<TensorSpec> block_specs;
        for (std::size_t b = 0; b < blocks; ++b) {
          std::int64_t rb = 0;
          for (std::size_t t = b * parts / blocks; t < (b + 1) * parts / blocks; ++t)
            rb += r.products[t]->outputs[0].shape[0];
          block_rows.push_back(rb);
          block_specs.push_back(TensorSpec{xs.dtype, Shape{rb, k}});
        }
        block_split =
            g.add(&split_view_op(), {{stacked, 0}}, {{"axis", std::int64_t{0}}, {"sizes", block_rows}}, block_specs);
        made.push_back(block_split);
      }
      for (std::size_t b = 0; b < blocks; ++b) {
        const std::size_t lo = b * parts / blocks, hi = (b + 1) * parts / blocks;
        std::vector<std::int64_t> sizes;
        std::vector<TensorSpec> specs;
        std::int64_t rb = 0;
        for (std::size_t t = lo; t < hi; ++t) {
          sizes.push_back(r.products[t]->outputs[0].shape[0]);
          specs.push_back(r.products[t]->outputs[0]);
          rb += sizes.back();
        }
        const graph::Value a = block_split ? graph::Value{block_split, static_cast<int>(b)} : graph::Value{stacked, 0};
        graph::Node* product = g.add(&matmul_op(), {a, m0->inputs[1]}, m0->attrs, {TensorSpec{xs.dtype, Shape{rb, n}}});
        graph::Node* split =
            g.add(&split_view_op(), {{product, 0}}, {{"axis", std::int64_t{0}}, {"sizes", sizes}}, specs);
        made.push_back(product);
        // The parts are views of the product: the split goes just before their first reader, so that nothing
        // between the product and that reader waits for it (a product on the second lane is then needed
        // only where its block's steps start).
        const graph::Node* first_reader = nullptr;
        for (std::size_t t = lo; t < hi; ++t)
          for (graph::Node* reader : readers_of_product[r.products[t]])
            if (!first_reader || pos[reader] < pos[first_reader]) first_reader = reader;
        if (first_reader && blocks > 1)
          before[first_reader].push_back(split);
        else
          made.push_back(split);
        fresh.insert(split);
        split->scope = m0->scope;
        // Each part stands for its product (the differential check compares them with eager's).
        for (std::size_t t = lo; t < hi; ++t) {
          graph::Node* m = r.products[t];
          split->origin.push_back(m->origin.empty() ? m->name : m->origin[0]);
          g.replace_uses({m, 0}, {split, static_cast<int>(t - lo)});
          removed.insert(m);
        }
      }
      for (graph::Node* f : made) {
        f->scope = m0->scope;
        fresh.insert(f);
      }
      std::vector<graph::Node*>& at = before[r.first];
      at.insert(at.begin(), made.begin(), made.end());
      products += static_cast<int>(r.products.size());
    }
    // The new nodes go just before the first product they replace: the split's input and the weight are
    // defined before it.
    std::vector<std::shared_ptr<graph::Node>> order;
    for (const auto& sp : g.nodes()) {
      auto it = before.find(sp.get());
      if (it != before.end())
        for (graph::Node* f : it->second) order.push_back(f->shared_from_this());
      if (!removed.count(sp.get()) && !fresh.count(sp.get())) order.push_back(sp);
    }
    g.mutable_nodes().swap(order);
    // What only the replaced products read goes too: the parts' reshapes, then a split left unread (an
    // inference graph's input split would otherwise copy the sequence for nothing).
    auto remove_unread = [&](auto&& candidates) {
      const Readers readers = readers_of(g);
      std::unordered_set<const graph::Node*> unread;
      for (const Rewrite& r : rewrites) candidates(r, readers, unread);
      g.remove_if([&](const graph::Node* n) { return unread.count(n) > 0; });
    };
    remove_unread([](const Rewrite& r, const Readers& readers, auto& unread) {
      for (graph::Node* m : r.products)
        if (m->inputs[0].node->op == &reshape_op() && readers.of(m->inputs[0].node) == 0)
          unread.insert(m->inputs[0].node);
    });
    remove_unread([](const Rewrite& r, const Readers& readers, auto& unread) {
      if (readers.of(r.split) == 0) unread.insert(r.split);
    });
    return "stacked " + std::to_string(products) + " products into " + std::to_string(rewrites.size());
  }
};

}  // namespace

std::unique_ptr<Pass> split_products() { return std::make_unique<SplitProductsPass>(); }

}  // namespace duet::passes
