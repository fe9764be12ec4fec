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

// relu_grad(x, max_pool2d_grad(x, y, g)) becomes one MaxPool2DGradRelu node: the backward of relu ->
// max_pool2d (every CNN block) in one pass over the pooled tensor instead of two (~1 ms per tf-cnn step).
// Only when the pool gradient has no other reader and both read the same x.
class PoolGradRelu : public Pass {
 public:
  const char* name() const override { return "pool_grad_relu"; }

  std::string run(graph::Graph& g) override {
    const Readers readers = readers_of(g);
    std::unordered_map<const graph::Node*, graph::Node*> replaced_by;
    std::unordered_set<const graph::Node*> removed;
    const std::size_t count = g.nodes().size();
    for (std::size_t i = 0; i < count; ++i) {
      graph::Node* rg = g.nodes()[i].get();
      if (rg->op != &relu_grad_op() || !rg->control_inputs.empty()) continue;
      graph::Node* pool = rg->inputs[1].node;
      if (pool->op != &max_pool2d_grad_op() || !pool->control_inputs.empty() || readers.of(pool) != 1 ||
          removed.count(pool) || !(pool->inputs[0] == rg->inputs[0]) ||
          !(pool->outputs[0].shape == rg->outputs[0].shape) || pool->outputs[0].dtype != rg->outputs[0].dtype)
        continue;
      graph::Node* f = g.add(&max_pool2d_grad_relu_op(), pool->inputs, pool->attrs, rg->outputs);
      g.replace_uses({rg, 0}, {f, 0});
      f->scope = rg->scope;
      f->origin = {rg->origin.empty() ? rg->name : rg->origin[0]};
      replaced_by[rg] = f;
      removed.insert(pool);
      removed.insert(rg);
    }
    if (replaced_by.empty()) return "fused 0 pool gradients";
    g.place_replacements(replaced_by, removed);
    return "fused " + std::to_string(replaced_by.size()) + " max_pool2d_grad + relu_grad";
  }
};

}  // namespace

std::unique_ptr<Pass> pool_grad_relu() { return std::make_unique<PoolGradRelu>(); }

std::unique_ptr<Pass> conv_bias_activation() { return std::make_unique<ConvBiasActivation>(); }

}  // namespace duet::passes
