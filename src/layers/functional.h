#pragma once
// Functional models. Inputs are placeholder nodes and every layer called on their tensors becomes a
// LayerCall node (ops applied directly to them become ordinary nodes). There is no graph object: each node
// owns the nodes it reads (Node::holds), so a symbolic tensor carries its whole history, a model is what a
// walk back from its outputs reaches, and dropping the model and its tensors frees its layers.
#include "duet/layers.h"
#include "graph/graph.h"

namespace duet::functional {

Tensor new_input(const TensorSpec& spec, const std::string& name);
std::vector<Tensor> record_call(Layer& layer, const std::vector<Tensor>& xs, bool training);
// True while a layer is traced to find its output shapes for a functional model (no real data exists then).
bool building();

// The nodes (in order) that compute outputs from inputs; throws when an output needs another Input.
struct Program {
  std::vector<const graph::Node*> inputs;  // placeholders, in the model's input order
  std::vector<graph::Value> outputs;
  std::vector<const graph::Node*> nodes;           // LayerCall and op nodes in execution order
  std::vector<std::shared_ptr<graph::Node>> keep;  // keeps the nodes (and their layers) alive
};
Program extract(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, const std::string& model);
std::vector<Tensor> run(const Program& p, const std::vector<Tensor>& xs, bool training, const std::string& model);
// The layer of a LayerCall node (nullptr for other nodes).
Layer* layer_of(const graph::Node* n);
bool is_functional(const Tensor& t);

}  // namespace duet::functional
