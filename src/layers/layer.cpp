// Layer: naming, weights, build-once, sublayer tracking, and the three ways a call runs:
//  * concrete inputs: computes now;
//  * symbolic inputs while a function is traced: call() is traced inline;
//  * symbolic inputs of the functional graph (Input): the call is recorded as a LayerCall node.
// A layer that reads values while traced (or is dynamic) runs as a host step: a graph break.
#include <map>
#include <mutex>

#include "core/tensor_impl.h"
#include "duet/function.h"
#include "duet/layers.h"
#include "duet/ops.h"
#include "autodiff/vjp.h"
#include "graph/tracer.h"
#include "layers/functional.h"
#include "ops/variable_impl.h"

namespace duet {
namespace {

std::mutex g_names_mu;
std::map<std::string, int> g_name_counts;

std::string snake_case(const std::string& type) {
  std::string s;
  for (std::size_t i = 0; i < type.size(); ++i) {
    char ch = type[i];
    if (std::isupper(static_cast<unsigned char>(ch))) {
      bool boundary = i > 0 && (std::islower(static_cast<unsigned char>(type[i - 1])) ||
                                (i + 1 < type.size() && std::islower(static_cast<unsigned char>(type[i + 1]))));
      if (boundary && !s.empty() && s.back() != '_') s += '_';
      s += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    } else {
      s += ch;
    }
  }
  return s;
}

// The layer whose call() is running on this thread (sublayers called from it become its children).
thread_local Layer* t_calling = nullptr;

struct CallingScope {
  Layer* saved;
  explicit CallingScope(Layer* l) : saved(t_calling) { t_calling = l; }
  ~CallingScope() { t_calling = saved; }
};

std::vector<Shape> shapes_of(const std::vector<Tensor>& xs) {
  std::vector<Shape> s;
  for (const Tensor& x : xs) s.push_back(x.shape());
  return s;
}

}  // namespace

Layer::Layer(std::string type, std::string name) : type_(std::move(type)) {
  std::lock_guard<std::mutex> lock(g_names_mu);
  if (name.empty()) {
    // Functional models are named like Keras's: model, model_1, ...
    std::string base = type_ == "Functional" ? "model" : snake_case(type_);
    int k = g_name_counts[base]++;
    name_ = k == 0 ? base : base + "_" + std::to_string(k);
  } else {
    name_ = std::move(name);
    g_name_counts[name_]++;
  }
}

Layer::~Layer() = default;

void Layer::build(const std::vector<Shape>&) {}

Tensor Layer::call(const Tensor& x, bool training) {
  (void)x;
  (void)training;
  throw StateError("[" + name_ + "] layer '" + type_ + "' does not implement call(): override call(const Tensor&, bool) "
                   "(one input) or call(const std::vector<Tensor>&, bool) (several)");
}

std::vector<Tensor> Layer::call(const std::vector<Tensor>& xs, bool training) {
  if (xs.size() != 1) {
    throw ValueError("[" + name_ + "] layer '" + type_ + "' takes one input, got " + std::to_string(xs.size()) +
                     "; override call(const std::vector<Tensor>&, bool) for several inputs");
  }
  return {call(xs[0], training)};
}

std::optional<std::vector<Shape>> Layer::compute_output_shape(const std::vector<Shape>&) { return std::nullopt; }

void Layer::add_child(std::shared_ptr<Layer> child) {
  for (const auto& c : children_)
    if (c == child) return;
  children_.push_back(std::move(child));
}

Variable Layer::add_weight(const std::string& name, const Shape& shape, const Initializer& init, bool trainable, DType dtype) {
  if (!shape.is_fully_known()) {
    throw ShapeError("[" + name_ + "] weight '" + name + "' needs a fully known shape, got " + shape.str() +
                     "; build weights from the non-batch dims of the input shape");
  }
  graph::EagerScope eager;  // weights are created (and initialized) eagerly even during a trace
  Variable v(init.fn(shape, dtype), {.name = name_ + "/" + name, .trainable = trainable});
  own_weights_.push_back(v);
  return v;
}

std::vector<Variable> Layer::weights() const {
  std::vector<Variable> all = own_weights_;
  for (const auto& c : children_)
    for (const auto& w : c->weights())
      if (std::find(all.begin(), all.end(), w) == all.end()) all.push_back(w);
  return all;
}

std::vector<Variable> Layer::trainable_weights() const {
  std::vector<Variable> out;
  if (!trainable_) return out;
  for (const auto& w : own_weights_)
    if (w.trainable()) out.push_back(w);
  for (const auto& c : children_)
    for (const auto& w : c->trainable_weights())
      if (std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
  return out;
}

std::vector<Variable> Layer::non_trainable_weights() const {
  std::vector<Variable> out;
  auto tw = trainable_weights();
  for (const auto& w : weights())
    if (std::find(tw.begin(), tw.end(), w) == tw.end()) out.push_back(w);
  return out;
}

std::int64_t Layer::count_params() const {
  std::int64_t n = 0;
  for (const auto& w : weights()) n += w.shape().num_elements();
  return n;
}

void Layer::ensure_built(const std::vector<Tensor>& xs) {
  if (built_) return;
  graph::EagerScope eager;
  build(shapes_of(xs));
  built_ = true;
}

Tensor Layer::operator()(const Tensor& x, bool training) { return (*this)(std::vector<Tensor>{x}, training)[0]; }

std::vector<Tensor> Layer::operator()(const std::vector<Tensor>& xs, bool training) {
  if (t_calling && t_calling != this) {
    if (auto self = weak_from_this().lock()) t_calling->add_child(self);
  }
  bool symbolic = false;
  for (const Tensor& x : xs) {
    if (!x.defined()) throw ValueError("[" + name_ + "] got an undefined Tensor handle as input");
    symbolic = symbolic || x.is_symbolic();
  }
  if (symbolic && !graph::current_graph_tracer()) return functional::record_call(*this, xs, training);
  return call_now(xs, training);
}

std::vector<Tensor> Layer::call_now(const std::vector<Tensor>& xs, bool training) {
  ensure_built(xs);
  graph::GraphTracer* tracer = graph::current_graph_tracer();
  if (tracer && (dynamic_ || host_step_)) return call_as_host_step(xs, training, dynamic_ ? "it is dynamic" : "");
  CallingScope scope(this);
  if (!tracer) return call(xs, training);
  const auto before = tracer->checkpoint();
  try {
    return call(xs, training);
  } catch (const SymbolicValueError& e) {
    // The layer runs as a host step instead; the partial trace goes, side effects included (an assign
    // traced before the value read would otherwise run on every call in addition to the host step's).
    tracer->rollback(before);
    return call_as_host_step(xs, training, e.what());
  }
}

// Runs the layer eagerly on concrete values inside the graph. Its trainable weights' current values are
// extra inputs of the host step, so the gradient (the layer re-run under a tape) reaches them.
std::vector<Tensor> Layer::call_as_host_step(const std::vector<Tensor>& xs, bool training, const std::string& why) {
  host_step_ = true;
  if (!warned_) {
    warned_ = true;
    internal::log(config::LogLevel::Warning,
                  "layer '" + name_ + "' (" + type_ + ") runs as a host step inside the compiled function (a graph break)" +
                      (why.empty() ? "" : ": " + why.substr(0, why.find(". Instead"))) +
                      ". The rest of the model stays compiled; rewrite it with duet ops (cond/where) to compile it too");
  }
  std::vector<Variable> ws = trainable_weights();
  std::vector<Tensor> ins = xs;
  for (const auto& w : ws) ins.push_back(w.value());
  const std::size_t n_x = xs.size();
  auto self = shared_from_this();
  auto run = [self, n_x, training](const std::vector<Tensor>& all) {
    CallingScope scope(self.get());
    return self->call(std::vector<Tensor>(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n_x)), training);
  };
  // Output specs: from compute_output_shape, else by running once now on zeros shaped like the inputs
  // (unknown dims as 1), keeping an unknown batch dim.
  std::vector<TensorSpec> specs;
  if (auto shapes = compute_output_shape(shapes_of(xs))) {
    for (const auto& s : *shapes) specs.push_back({xs[0].dtype(), s});
  } else {
    // The probe run must not change state: the weights' values are put back afterwards (an assign during
    // the probe writes a new buffer, since the saved handles still share the old one).
    graph::EagerScope eager;
    std::vector<std::pair<Variable, Tensor>> saved;
    for (const auto& w : weights()) saved.emplace_back(w, w.ref()->value);
    struct Restore {
      std::vector<std::pair<Variable, Tensor>>& s;
      ~Restore() {
        for (auto& [w, v] : s) w.ref()->value = v;
      }
    } restore{saved};
    std::vector<Tensor> probe;
    for (const Tensor& x : xs) {
      std::vector<std::int64_t> d;
      for (auto v : x.shape()) d.push_back(v < 0 ? 1 : v);
      probe.push_back(zeros(Shape(d), x.dtype()));
    }
    auto outs = run(probe);
    for (std::size_t i = 0; i < outs.size(); ++i) {
      Shape s = outs[i].shape();
      if (i < xs.size() && s.rank() == xs[0].rank() && s.rank() > 0 && xs[0].shape()[0] < 0) s[0] = Shape::kUnknown;
      specs.push_back({outs[i].dtype(), s});
    }
  }
  HostFunctionOptions opts{.name = name_};
  opts.gradient = [self, n_x, ws, training](const std::vector<Tensor>& in, const std::vector<Tensor>&,
                                            const std::vector<Tensor>& ups) {
    std::vector<Source> srcs(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n_x));
    srcs.insert(srcs.end(), ws.begin(), ws.end());
    return internal::vjp([&] {
      CallingScope scope(self.get());
      return self->call(std::vector<Tensor>(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n_x)), training);
    }, srcs, ups);
  };
  return host_function(run, ins, specs, opts);
}

Tensor Input(const std::vector<std::int64_t>& shape, DType dtype, const std::string& name) {
  for (auto d : shape)
    if (d < 0) throw ShapeError("[Input] per-example dims must be known, got a negative dim; the batch dim is added as None");
  Shape s{Shape::kUnknown};
  for (auto d : shape) s.push_back(d);
  return functional::new_input({dtype, s}, name);
}

}  // namespace duet
