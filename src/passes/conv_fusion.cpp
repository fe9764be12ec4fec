// conv2d -> bias_add [-> relu] becomes one FusedConv2D node: oneDNN adds the bias and applies relu while
// the output is still in cache, instead of two more passes over it. Runs with the fusion passes (after
// gradients exist: the fused node has none of its own). An intermediate is fused away only when the next
// op of the chain is its sole reader.
#include <unordered_map>
#include <unordered_set>

#include "ops/fused.h"
#include "passes/pass.h"

namespace duet::passes {
namespace {

class ConvBiasActivation : public Pass {
 public:
  const char* name() const override { return "conv_bias_activation"; }

  std::string run(graph::Graph& g) override {
    const Readers readers = readers_of(g);
    auto is = [](const graph::Node* n, const OpDef& op) { return n->op == &op && n->control_inputs.empty(); };

    std::unordered_map<const graph::Node*, graph::Node*> replaced_by;  // last node of a chain -> fused node
    std::unordered_set<const graph::Node*> removed;
    int relus = 0;
    const std::size_t count = g.nodes().size();  // g.add() appends (and may reallocate) as we go
    for (std::size_t i = 0; i < count; ++i) {
      graph::Node* bias = g.nodes()[i].get();
      if (!is(bias, bias_add_op()) || removed.count(bias)) continue;
      graph::Node* conv = bias->inputs[0].node;
      if (!is(conv, conv2d_op()) || readers.of(conv) != 1 || bias->outputs[0].dtype != conv->outputs[0].dtype) continue;
      // The relu, if bias_add's only reader is one.
      graph::Node* sole = readers.sole(bias);
      graph::Node* relu = sole && is(sole, relu_op()) ? sole : nullptr;
      graph::Node* last = relu ? relu : bias;
      Attrs attrs = conv->attrs;
      attrs.set("activation", std::string(relu ? "relu" : ""));
      graph::Node* f =
          g.add(&fused_conv2d_op(), {conv->inputs[0], conv->inputs[1], bias->inputs[1]}, attrs, last->outputs);
      g.replace_uses({last, 0}, {f, 0});
      f->scope = last->scope;
      f->origin = {last->origin.empty() ? last->name : last->origin[0]};
      replaced_by[last] = f;
      removed.insert(conv);
      removed.insert(bias);
      if (relu) removed.insert(relu);
      relus += relu != nullptr;
    }
    if (replaced_by.empty()) return "fused 0 convolutions";
    // Each fused node takes its chain's last position (every input is defined before the chain's BiasAdd).
    g.place_replacements(replaced_by, removed);
    return "fused " + std::to_string(replaced_by.size()) + " conv2d + bias_add (" + std::to_string(relus) +
           " with relu)";
  }
};

}  // namespace

std::unique_ptr<Pass> conv_bias_activation() { return std::make_unique<ConvBiasActivation>(); }

}  // namespace duet::passes
