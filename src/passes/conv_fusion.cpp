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
      inherit_origin(f, last);
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
      inherit_origin(f, rg);
      replaced_by[rg] = f;
      removed.insert(pool);
      removed.insert(rg);
    }
    if (replaced_by.empty()) return "fused 0 pool gradients";
    g.place_replacements(replaced_by, removed);
    return "fused " + std::to_string(replaced_by.size()) + " max_pool2d_grad + relu_grad";
  }
};

// conv2d_backprop_filter(x, g, w) and sum_to(g, b) reducing g to its channels (a convolution's filter and
// bias gradients) become one Conv2DBackpropFilterBias node: one read of g instead of two (the bias sum was a
// separate pass over a gradient that no longer fits in cache). When g is a max_pool2d_grad_relu read by
// nothing else (a network's first block: its input needs no gradient), that joins too
// (Conv2DBackpropFilterBiasPool), and g is made image by image in cache instead of going through memory.
class ConvBiasGrad : public Pass {
 public:
  const char* name() const override { return "conv_bias_grad"; }

  std::string run(graph::Graph& g) override {
    const Readers readers = readers_of(g);
    std::unordered_map<const graph::Node*, std::size_t> pos;
    for (std::size_t i = 0; i < g.nodes().size(); ++i) pos[g.nodes()[i].get()] = i;
    int from_pools = 0;
    // The bias sums of each value: sum_to(g, like) whose result is (channels,), g's last dim.
    std::unordered_map<const graph::Node*, std::vector<graph::Node*>> sums;  // keyed by g's node (index checked)
    for (const auto& sp : g.nodes()) {
      graph::Node* n = sp.get();
      if (n->op != &sum_to_op() || !n->control_inputs.empty()) continue;
      const TensorSpec& in = n->inputs[0].node->outputs[static_cast<std::size_t>(n->inputs[0].index)];
      const Shape& out = n->outputs[0].shape;
      if (in.shape.rank() == 4 && out.rank() == 1 && out[0] >= 0 && in.shape[3] == out[0])
        sums[n->inputs[0].node].push_back(n);
    }
    std::unordered_map<const graph::Node*, graph::Node*> replaced_by;
    std::unordered_set<const graph::Node*> removed;
    const std::size_t count = g.nodes().size();
    for (std::size_t i = 0; i < count; ++i) {
      graph::Node* filt = g.nodes()[i].get();
      if (filt->op != &conv2d_backprop_filter_op() || !filt->control_inputs.empty()) continue;
      const graph::Value grad = filt->inputs[1];
      auto it = sums.find(grad.node);
      if (it == sums.end()) continue;
      graph::Node* sum = nullptr;
      for (graph::Node* c : it->second)
        if (c->inputs[0] == grad && !removed.count(c) && c->outputs[0].dtype == filt->outputs[0].dtype) sum = c;
      if (!sum) continue;
      // The fused node goes where the earlier of the two was; every input of the filter gradient must be
      // defined before that point.
      graph::Node* first = pos.at(sum) < pos.at(filt) ? sum : filt;
      bool ready = true;
      for (const auto& v : filt->inputs) {
        auto at = pos.find(v.node);  // a node this pass added is not in pos: not known to be earlier
        ready = ready && at != pos.end() && at->second < pos.at(first);
      }
      if (!ready) continue;
      // When g is a relu'd max pool's gradient read by nothing else, that is made per image in the same node.
      graph::Node* pool = grad.node;
      const bool from_pool = pool->op == &max_pool2d_grad_relu_op() && pool->control_inputs.empty() &&
                             grad.index == 0 && readers.of(pool) == 2 && !removed.count(pool);
      graph::Node* f = nullptr;
      if (from_pool) {
        Attrs attrs = filt->attrs;
        attrs.set("pool_size", pool->attrs.ints("pool_size"));
        attrs.set("pool_strides", pool->attrs.ints("strides"));
        attrs.set("pool_padding", pool->attrs.s("padding"));
        f = g.add(&conv2d_backprop_filter_bias_pool_op(),
                  {filt->inputs[0], pool->inputs[0], pool->inputs[1], pool->inputs[2], filt->inputs[2]}, attrs,
                  {filt->outputs[0], sum->outputs[0]});
        removed.insert(pool);
        ++from_pools;
      } else {
        f = g.add(&conv2d_backprop_filter_bias_op(), filt->inputs, filt->attrs, {filt->outputs[0], sum->outputs[0]});
      }
      g.replace_uses({filt, 0}, {f, 0});
      g.replace_uses({sum, 0}, {f, 1});
      inherit_origin(f, filt);
      replaced_by[first] = f;
      removed.insert(filt);
      removed.insert(sum);
    }
    if (replaced_by.empty()) return "fused 0 bias gradients";
    g.place_replacements(replaced_by, removed);
    return "fused " + std::to_string(replaced_by.size()) + " conv2d_backprop_filter + bias sum_to (" +
           std::to_string(from_pools) + " with the max_pool2d_grad_relu before them)";
  }
};

// max_pool2d(FusedConv2D(x, w, b)) becomes one FusedConv2DPool node with both results: where the direct
// kernel runs, each image is pooled while its convolution output is in cache (the output is still kept: the
// backward reads it). Only a pool of the fused convolution's output; the convolution may have other readers.
class ConvPool : public Pass {
 public:
  const char* name() const override { return "conv_pool"; }

  std::string run(graph::Graph& g) override {
    std::unordered_map<const graph::Node*, graph::Node*> replaced_by;
    std::unordered_set<const graph::Node*> removed;
    const std::size_t count = g.nodes().size();
    for (std::size_t i = 0; i < count; ++i) {
      graph::Node* pool = g.nodes()[i].get();
      if (pool->op != &max_pool2d_op() || !pool->control_inputs.empty()) continue;
      graph::Node* conv = pool->inputs[0].node;
      if (conv->op != &fused_conv2d_op() || !conv->control_inputs.empty() || pool->inputs[0].index != 0 ||
          removed.count(conv))
        continue;
      Attrs attrs = conv->attrs;
      attrs.set("pool_size", pool->attrs.ints("pool_size"));
      attrs.set("pool_strides", pool->attrs.ints("strides"));
      attrs.set("pool_padding", pool->attrs.s("padding"));
      graph::Node* f = g.add(&fused_conv2d_pool_op(), conv->inputs, attrs, {conv->outputs[0], pool->outputs[0]});
      g.replace_uses({conv, 0}, {f, 0});
      g.replace_uses({pool, 0}, {f, 1});
      inherit_origin(f, conv);
      replaced_by[conv] = f;  // at the convolution's place: before every reader of either result
      removed.insert(conv);
      removed.insert(pool);
    }
    if (replaced_by.empty()) return "fused 0 pools";
    g.place_replacements(replaced_by, removed);
    return "fused " + std::to_string(replaced_by.size()) + " fused_conv2d + max_pool2d";
  }
};

}  // namespace

std::unique_ptr<Pass> conv_pool() { return std::make_unique<ConvPool>(); }

std::unique_ptr<Pass> conv_bias_grad() { return std::make_unique<ConvBiasGrad>(); }

std::unique_ptr<Pass> pool_grad_relu() { return std::make_unique<PoolGradRelu>(); }

std::unique_ptr<Pass> conv_bias_activation() { return std::make_unique<ConvBiasActivation>(); }

}  // namespace duet::passes
