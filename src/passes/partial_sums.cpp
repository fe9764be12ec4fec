// A long sum of products whose terms become ready one after another is computed in partial sums as they
// do. A recurrent weight's gradient is one product per step, each ready when the backward pass reaches
// that step; as one MatMulSum it waits for the whole backward chain and then runs alone. Split into
// partial sums placed where their terms are ready, each can run on the plan's second lane (exec/lanes.h)
// beside the chain of small steps that produces the next terms; the last one adds the others as addends.
// On one thread the partial sums cost about what the single product did (the same multiply-adds, a few
// more additions of the (m, n) output).
#include <algorithm>
#include <numeric>
#include <unordered_map>

#include "ops/fused.h"
#include "passes/pass.h"

namespace duet::passes {
namespace {

// Each partial sum is worth moving to the second lane: >= kLaneMinSideNs of products on one core.
constexpr double kMinPartialFlops = 24e6;
constexpr std::size_t kMaxPartials = 8, kMinTermsPerPartial = 4, kMinNodesPerTerm = 4;

class PartialSumsPass : public Pass {
 public:
  const char* name() const override { return "partial_sums"; }

  std::string run(graph::Graph& g) override {
    std::unordered_map<const graph::Node*, std::size_t> pos;
    for (std::size_t i = 0; i < g.nodes().size(); ++i) pos[g.nodes()[i].get()] = i;
    auto spec = [](const graph::Value& v) -> const TensorSpec& {
      return v.node->outputs[static_cast<std::size_t>(v.index)];
    };
    std::unordered_map<const graph::Node*, std::vector<graph::Node*>> after;  // new nodes placed after a node
    std::unordered_map<const graph::Node*, graph::Node*> instead;             // the last partial replaces the sum
    int split = 0, partials = 0;
    const std::size_t count = g.nodes().size();  // g.add() appends as we go
    for (std::size_t ni = 0; ni < count; ++ni) {
      graph::Node* sum = g.nodes()[ni].get();
      if (sum->op != &matmul_sum_op() || !sum->control_inputs.empty()) continue;
      const auto terms = static_cast<std::size_t>(sum->attrs.i("terms"));
      const bool ta = sum->attrs.b("transpose_a");
      const Shape& out = sum->outputs[0].shape;
      if (terms < 2 * kMinTermsPerPartial || !out.is_fully_known()) continue;
      double flops = 0;
      std::vector<std::size_t> ready(terms);
      for (std::size_t t = 0; t < terms; ++t) {
        const Shape& a = spec(sum->inputs[t]).shape;
        flops += 2.0 * static_cast<double>(out.num_elements()) * static_cast<double>(ta ? a[0] : a[1]);
        ready[t] = std::max(pos.at(sum->inputs[t].node), pos.at(sum->inputs[terms + t].node));
      }
      const std::size_t k =
          std::min({kMaxPartials, terms / kMinTermsPerPartial, static_cast<std::size_t>(flops / kMinPartialFlops)});
      if (k < 2) continue;
      std::vector<std::size_t> order(terms);
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return ready[x] < ready[y]; });
      // Terms ready close together (fewer than kMinNodesPerTerm nodes apart on average): no chain of work
      // between them for the partial sums to run beside.
      if (ready[order.back()] - ready[order.front()] < kMinNodesPerTerm * terms) continue;
      std::vector<graph::Value> done;  // the partial sums so far, addends of the last
      for (std::size_t c = 0; c < k; ++c) {
        std::vector<std::size_t> part(order.begin() + static_cast<std::ptrdiff_t>(c * terms / k),
                                      order.begin() + static_cast<std::ptrdiff_t>((c + 1) * terms / k));
        std::sort(part.begin(), part.end());  // the original term order
        std::vector<graph::Value> inputs;
        for (std::size_t t : part) inputs.push_back(sum->inputs[t]);
        for (std::size_t t : part) inputs.push_back(sum->inputs[terms + t]);
        Attrs attrs = sum->attrs;
        attrs.set("terms", static_cast<std::int64_t>(part.size()));
        const bool last = c + 1 == k;
        if (last) {
          inputs.insert(inputs.end(), sum->inputs.begin() + static_cast<std::ptrdiff_t>(2 * terms), sum->inputs.end());
          inputs.insert(inputs.end(), done.begin(), done.end());
        }
        graph::Node* p = g.add(&matmul_sum_op(), inputs, attrs, sum->outputs);
        p->scope = sum->scope;
        if (last) {
          inherit_origin(p, sum);  // stands for the whole sum; the others are partial (no eager counterpart)
          g.replace_uses({sum, 0}, {p, 0});
          instead[sum] = p;
        } else {
          std::size_t at = 0;
          for (std::size_t t : part) at = std::max(at, ready[t]);
          after[g.nodes()[at].get()].push_back(p);
          done.push_back({p, 0});
        }
      }
      ++split;
      partials += static_cast<int>(k);
    }
    if (!split) return "split 0 sums";
    std::vector<std::shared_ptr<graph::Node>> order;
    for (std::size_t i = 0; i < count; ++i) {
      const auto& sp = g.nodes()[i];
      auto it = instead.find(sp.get());
      order.push_back(it == instead.end() ? sp : it->second->shared_from_this());
      auto a = after.find(sp.get());
      if (a != after.end())
        for (graph::Node* p : a->second) order.push_back(p->shared_from_this());
    }
    g.mutable_nodes().swap(order);
    return "split " + std::to_string(split) + " sums into " + std::to_string(partials) + " partial sums";
  }
};

}  // namespace

std::unique_ptr<Pass> partial_sums() { return std::make_unique<PartialSumsPass>(); }

}  // namespace duet::passes
