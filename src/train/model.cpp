// Functional, Sequential and subclassed models: construction, calls and their layers.
#include "core/tensor_impl.h"
#include "duet/ops.h"
#include "train/model_impl.h"

namespace duet {

Model::Model(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, const std::string& name)
    : Layer("Functional", name), structure_(std::make_unique<Structure>()), training_(std::make_unique<Training>()) {
  if (inputs.empty() || outputs.empty()) throw ValueError("[Model] needs at least one input and one output");
  for (const Tensor& t : inputs) {
    if (!functional::is_functional(t)) {
      throw ValueError("[Model] inputs must be Input(...) tensors, got " +
                       (t.defined() ? t.str() : std::string("an undefined handle")));
    }
  }
  for (const Tensor& t : outputs) {
    if (!functional::is_functional(t)) {
      throw ValueError("[Model] outputs must be computed from Input tensors by layers, got " +
                       (t.defined() ? t.str() : std::string("an undefined handle")));
    }
  }
  structure_->functional = true;
  structure_->inputs = inputs;
  structure_->outputs = outputs;
  structure_->program = functional::extract(inputs, outputs, this->name());
  for (const graph::Node* n : structure_->program.nodes)
    if (Layer* l = functional::layer_of(n))
      if (auto p = l->weak_from_this().lock()) add_child(p);
  built_ = true;
}

Model::Model(const Tensor& input, const Tensor& output, const std::string& name)
    : Model(std::vector<Tensor>{input}, std::vector<Tensor>{output}, name) {}

Model::Model(const std::string& name, const std::string& type)
    : Layer(type, name), structure_(std::make_unique<Structure>()), training_(std::make_unique<Training>()) {}

Model::~Model() = default;

std::vector<Tensor> Model::call(const std::vector<Tensor>& xs, bool training) {
  if (structure_->functional) return functional::run(structure_->program, xs, training, name());
  return Layer::call(xs, training);
}

Tensor Model::call(const Tensor& x, bool training) {
  if (structure_->functional) {
    auto outs = functional::run(structure_->program, {x}, training, name());
    if (outs.size() != 1) {
      throw ValueError("[" + name() + "] has " + std::to_string(outs.size()) +
                       " outputs; call it with a vector of inputs to get them all");
    }
    return outs[0];
  }
  return Layer::call(x, training);
}

std::size_t Model::num_inputs() const { return structure_->functional ? structure_->inputs.size() : 1; }
std::size_t Model::num_outputs() const { return structure_->functional ? structure_->outputs.size() : 1; }

namespace {
// A handle for a layer held elsewhere: shared when it is, borrowed when it lives on the stack.
LayerRef handle(Layer* l) {
  if (auto p = l->weak_from_this().lock()) return LayerRef(p);
  return LayerRef(std::shared_ptr<Layer>(std::shared_ptr<Layer>(), l));
}
}  // namespace

std::vector<LayerRef> Model::layers() const {
  std::vector<LayerRef> out;
  if (structure_->functional) {
    for (const graph::Node* n : structure_->program.nodes)
      if (Layer* l = functional::layer_of(n)) {
        bool seen = false;
        for (const auto& r : out) seen = seen || r.ptr().get() == l;
        if (!seen) out.push_back(handle(l));
      }
  } else if (!structure_->seq.empty()) {
    out = structure_->seq;
  } else {
    for (const auto& c : sublayers()) out.emplace_back(c);
  }
  return out;
}

Sequential::Sequential(const std::vector<LayerRef>& layers, const std::string& name) : Model(name, "Sequential") {
  for (auto& l : layers) add(l);
}

Sequential::Sequential(const Tensor& input, const std::vector<LayerRef>& layers, const std::string& name)
    : Sequential(layers, name) {
  if (!functional::is_functional(input))
    throw ValueError("[" + this->name() + "] the first argument must be an Input(...) tensor");
  structure_->settle_input_spec(input.spec());
  Tensor x = input;
  for (auto& l : structure_->seq) x = l(x);  // builds every layer now, with the batch dim unknown
  built_ = true;
}

void Sequential::add(const LayerRef& layer) {
  if (!layer) throw ValueError("[" + name() + "] cannot add an empty layer handle");
  structure_->seq.push_back(layer);
  add_child(layer.ptr());
}

std::vector<Tensor> Sequential::call(const std::vector<Tensor>& xs, bool training) {
  if (xs.size() != 1)
    throw ValueError("[" + name() + "] a Sequential model takes one input, got " + std::to_string(xs.size()));
  return {call(xs[0], training)};
}

Tensor Sequential::call(const Tensor& x, bool training) {
  if (structure_->seq.empty()) throw StateError("[" + name() + "] has no layers; add() some first");
  Shape first = x.shape();
  if (first.rank() > 0) first[0] = Shape::kUnknown;
  const TensorSpec s = structure_->settle_input_spec(TensorSpec{x.dtype(), first});
  if ((x.dtype() != s.dtype && !is_floating(s.dtype)) || !s.shape.compatible_with(x.shape())) {
    throw ShapeError("[" + name() + "] expects input " + dtype_name(s.dtype) + " " + s.shape.str() + ", got " +
                     dtype_name(x.dtype()) + " " + x.shape().str());
  }
  // As Keras: inputs are converted to a floating Input's dtype (token ids fed to a float32 Input reach its
  // Embedding, which takes them as integers).
  Tensor y = x.dtype() == s.dtype ? x : cast(x, s.dtype);
  for (auto& l : structure_->seq) y = l(y, training);
  return y;
}

void refuse_during_fit(const Model& m, const Model::Training& t, const char* what) {
  if (t.fitting.load() && t.fit_thread.load() != std::this_thread::get_id()) {
    throw StateError("[" + m.name() + "] " + what +
                     "() while fit() runs on this model in another thread; wait for fit to finish "
                     "(or predict with a copy of the weights)");
  }
}

}  // namespace duet
