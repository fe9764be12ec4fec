// Functional, Sequential and subclassed models, and Keras-style summary().
#include <algorithm>
#include <iomanip>
#include <sstream>

#include "duet/ops.h"
#include "core/tensor_impl.h"
#include "graph/graph.h"
#include "layers/model_impl.h"

namespace duet {

Model::Model(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, const std::string& name)
    : Layer("Functional", name.empty() ? "" : name), impl_(std::make_unique<Impl>()) {
  if (inputs.empty() || outputs.empty()) throw ValueError("[Model] needs at least one input and one output");
  for (const Tensor& t : inputs) {
    if (!functional::is_functional(t)) {
      throw ValueError("[Model] inputs must be Input(...) tensors, got " + (t.defined() ? t.str() : std::string("an undefined handle")));
    }
  }
  for (const Tensor& t : outputs) {
    if (!functional::is_functional(t)) {
      throw ValueError("[Model] outputs must be computed from Input tensors by layers, got " +
                       (t.defined() ? t.str() : std::string("an undefined handle")));
    }
  }
  impl_->functional = true;
  impl_->inputs = inputs;
  impl_->outputs = outputs;
  impl_->program = functional::extract(inputs, outputs, this->name());
  for (const graph::Node* n : impl_->program.nodes)
    if (Layer* l = functional::layer_of(n)) add_child(l->shared_from_this());
  built_ = true;
}

Model::Model(const Tensor& input, const Tensor& output, const std::string& name)
    : Model(std::vector<Tensor>{input}, std::vector<Tensor>{output}, name) {}

Model::Model(const std::string& name, const std::string& type) : Layer(type, name), impl_(std::make_unique<Impl>()) {}

Model::~Model() = default;

bool Model::compiled() const { return impl_->compiled; }

std::vector<Tensor> Model::call(const std::vector<Tensor>& xs, bool training) {
  if (impl_->functional) return functional::run(impl_->program, xs, training, name());
  return Layer::call(xs, training);
}

Tensor Model::call(const Tensor& x, bool training) {
  if (impl_->functional) return functional::run(impl_->program, {x}, training, name())[0];
  return Layer::call(x, training);
}

std::vector<LayerRef> Model::layers() const {
  std::vector<LayerRef> out;
  if (impl_->functional) {
    for (const graph::Node* n : impl_->program.nodes)
      if (Layer* l = functional::layer_of(n)) out.emplace_back(l->shared_from_this());
  } else if (!impl_->seq.empty()) {
    out = impl_->seq;
  } else {
    for (const auto& c : sublayers()) out.emplace_back(c);
  }
  return out;
}

Sequential::Sequential(std::vector<LayerRef> layers, const std::string& name) : Model(name, "Sequential") {
  for (auto& l : layers) add(l);
}

Sequential::Sequential(const Tensor& input, std::vector<LayerRef> layers, const std::string& name) : Sequential(std::move(layers), name) {
  if (!functional::is_functional(input)) throw ValueError("[" + this->name() + "] the first argument must be an Input(...) tensor");
  impl_->input_spec = input.spec();
  Tensor x = input;
  for (auto& l : impl_->seq) x = l(x);  // builds every layer now, with the batch dim unknown
  built_ = true;
}

void Sequential::add(LayerRef layer) {
  if (!layer) throw ValueError("[" + name() + "] cannot add an empty layer handle");
  impl_->seq.push_back(layer);
  add_child(layer.ptr());
}

std::vector<Tensor> Sequential::call(const std::vector<Tensor>& xs, bool training) {
  if (xs.size() != 1) throw ValueError("[" + name() + "] a Sequential model takes one input, got " + std::to_string(xs.size()));
  return {call(xs[0], training)};
}

Tensor Sequential::call(const Tensor& x, bool training) {
  if (impl_->seq.empty()) throw StateError("[" + name() + "] has no layers; add() some first");
  if (impl_->input_spec) {
    const TensorSpec& s = *impl_->input_spec;
    if (x.dtype() != s.dtype || !s.shape.compatible_with(x.shape())) {
      throw ShapeError("[" + name() + "] expects input " + dtype_name(s.dtype) + " " + s.shape.str() + ", got " +
                       dtype_name(x.dtype()) + " " + x.shape().str());
    }
  } else {
    Shape s = x.shape();
    if (s.rank() > 0) s[0] = Shape::kUnknown;
    impl_->input_spec = TensorSpec{x.dtype(), s};
  }
  Tensor y = x;
  for (auto& l : impl_->seq) y = l(y, training);
  return y;
}

namespace {

std::string shape_text(const std::vector<TensorSpec>& specs) {
  if (specs.size() == 1) return specs[0].shape.str();
  std::string s = "[";
  for (std::size_t i = 0; i < specs.size(); ++i) s += (i ? ", " : "") + specs[i].shape.str();
  return s + "]";
}

std::string with_commas(std::int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

}  // namespace

std::string Model::summary_string() {
  struct Row {
    std::string layer, shape;
    std::int64_t params;
  };
  std::vector<Row> rows;
  auto label = [](const Layer& l) {
    return l.name() + " (" + l.type() + ")" + (l.runs_as_host_step() || l.dynamic() ? " [host step]" : "");
  };
  if (impl_->functional) {
    for (const Tensor& in : impl_->inputs) {
      const graph::Node* n = in.impl()->node.get();
      rows.push_back({n->name + " (InputLayer)", "[" + in.shape().str() + "]", 0});
    }
    for (const graph::Node* n : impl_->program.nodes)
      if (Layer* l = functional::layer_of(n)) rows.push_back({label(*l), shape_text(n->outputs), l->count_params()});
  } else if (!impl_->seq.empty()) {
    // Shapes come from running the layers on a symbolic Input of the known input spec.
    std::optional<Tensor> x;
    if (impl_->input_spec) {
      std::vector<std::int64_t> per_example(impl_->input_spec->shape.begin() + 1, impl_->input_spec->shape.end());
      x = Input(per_example, impl_->input_spec->dtype);
    }
    for (auto& l : impl_->seq) {
      std::string shape = "?";
      if (x) {
        *x = l(*x);
        shape = x->shape().str();
      }
      rows.push_back({label(*l), l->built() ? shape : "(unbuilt)", l->count_params()});
    }
  } else {
    for (const auto& c : sublayers()) rows.push_back({label(*c), "multiple", c->count_params()});
  }
  std::int64_t total = count_params(), trainable = 0;
  for (const auto& w : trainable_weights()) trainable += w.shape().num_elements();
  std::ostringstream os;
  const std::string rule(65, '_'), dbl(65, '=');
  os << "Model: \"" << name() << "\"\n" << rule << "\n";
  os << " " << std::left << std::setw(28) << "Layer (type)" << std::setw(26) << "Output Shape" << "Param #\n" << dbl << "\n";
  // A cell longer than its column continues on the next line (as Keras wraps), so columns never run together.
  auto print_row = [&os](const std::vector<std::string>& cells) {
    const std::size_t widths[] = {27, 25, 20};
    std::size_t lines = 1;
    for (std::size_t c = 0; c < cells.size(); ++c) lines = std::max(lines, (cells[c].size() + widths[c] - 1) / widths[c]);
    for (std::size_t l = 0; l < lines; ++l) {
      std::string line = " ";
      for (std::size_t c = 0; c < cells.size(); ++c) {
        std::string part = l * widths[c] < cells[c].size() ? cells[c].substr(l * widths[c], widths[c]) : "";
        if (c + 1 < cells.size()) part.resize(widths[c] + 1, ' ');
        line += part;
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      os << line << "\n";
    }
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    print_row({rows[i].layer, rows[i].shape, with_commas(rows[i].params)});
    os << (i + 1 < rows.size() ? "\n" : "");
  }
  os << dbl << "\n";
  os << "Total params: " << with_commas(total) << "\n";
  os << "Trainable params: " << with_commas(trainable) << "\n";
  os << "Non-trainable params: " << with_commas(total - trainable) << "\n" << rule << "\n";
  return os.str();
}

void Model::summary(std::ostream& os) { os << summary_string(); }

}  // namespace duet
