// Layer: naming, weights, build-once, sublayer tracking, and the three ways a call runs:
//  * concrete inputs: computes now;
//  * symbolic inputs while a function is traced: call() is traced inline;
//  * symbolic inputs of a functional model (Input): the call is recorded as a LayerCall node.
// A layer that reads values while traced (or is dynamic) runs as a host step: a graph break. Its user code
// runs exactly once per step: the forward run records the tape its gradient needs, and its output shapes
// come from compute_output_shape, the model build, or its first real call (never from a run on dummy data
// while a step is traced).
#include <atomic>
#include <map>
#include <mutex>

#include "autodiff/vjp.h"
#include "core/tensor_impl.h"
#include "duet/function.h"
#include "duet/layers.h"
#include "duet/ops.h"
#include "duet/tape.h"
#include "exec/plan.h"
#include "graph/tracer.h"
#include "layers/functional.h"
#include "layers/loading.h"
#include "ops/variable_impl.h"

namespace duet {
namespace {

std::mutex g_names_mu;
std::map<std::string, int> g_name_counts;
std::atomic<std::int64_t> g_live_layers{0};

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

// Specs with the batch dim (dim 0) unknown: what a host step's output specs are cached by.
std::vector<TensorSpec> batchless(std::vector<TensorSpec> specs) {
  for (auto& s : specs)
    if (s.shape.rank() > 0) s.shape[0] = Shape::kUnknown;
  return specs;
}
std::vector<TensorSpec> specs_of(const std::vector<Tensor>& xs) {
  std::vector<TensorSpec> s;
  for (const Tensor& x : xs) s.push_back(x.spec());
  return s;
}
bool same_specs(const std::vector<TensorSpec>& a, const std::vector<TensorSpec>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].dtype != b[i].dtype || a[i].shape != b[i].shape) return false;
  return true;
}

// A shared owner for lambdas that outlive this call: the layer's own shared_ptr when it has one; a layer on
// the stack (a Sequential or subclassed model declared as a local) is borrowed, and outlives the functions
// it compiled, which it owns.
std::shared_ptr<Layer> handle_of(Layer* l) {
  if (auto p = l->weak_from_this().lock()) return p;
  return std::shared_ptr<Layer>(std::shared_ptr<Layer>(), l);
}

// What a host step's forward run keeps for its backward in the same graph run: the tape it recorded, the
// outputs it watched and the sources.
struct ForwardTape {
  GradientTape tape{{.persistent = false, .watch_accessed_variables = false}};
  std::optional<GradientTape::Pause> paused;  // recorded nothing after the forward run
  std::vector<Tensor> outputs;
  std::vector<Source> sources;
};

}  // namespace

namespace internal {
std::int64_t live_layer_count() { return g_live_layers.load(); }
}  // namespace internal

Layer::Layer(std::string type, std::string name) : type_(std::move(type)) {
  ++g_live_layers;
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

Layer::~Layer() { --g_live_layers; }

void Layer::build(const std::vector<Shape>&) {}

Tensor Layer::call(const Tensor& x, bool training) {
  (void)x;
  (void)training;
  throw StateError("[" + name_ + "] layer '" + type_ +
                   "' does not implement call(): override call(const Tensor&, bool) "
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
  std::lock_guard<std::mutex> lock(children_mu_);
  for (const auto& c : children_)
    if (c == child) return;
  children_.push_back(std::move(child));
}

namespace {
thread_local bool t_skip_initializers = false;
}  // namespace

internal::SkipInitializers::SkipInitializers() : saved_(t_skip_initializers) { t_skip_initializers = true; }
internal::SkipInitializers::~SkipInitializers() { t_skip_initializers = saved_; }
bool internal::initializers_skipped() { return t_skip_initializers; }

Variable Layer::add_weight(const std::string& name, const Shape& shape, const WeightOptions& o) {
  if (!shape.is_fully_known()) {
    throw ShapeError("[" + name_ + "] weight '" + name + "' needs a fully known shape, got " + shape.str() +
                     "; build weights from the non-batch dims of the input shape");
  }
  if (!o.initializer.fn) throw ValueError("[" + name_ + "] weight '" + name + "' has an empty initializer");
  graph::EagerScope eager;  // weights are created (and initialized) eagerly even during a trace
  Tensor init = internal::initializers_skipped() ? zeros(shape, o.dtype) : o.initializer.fn(shape, o.dtype);
  if (!init.defined() || init.shape() != shape) {
    throw ShapeError("[" + name_ + "] the initializer of weight '" + name + "' returned " +
                     (init.defined() ? init.shape().str() : std::string("an undefined tensor")) + " for shape " +
                     shape.str());
  }
  Variable v(init.dtype() == o.dtype ? init : cast(init, o.dtype),
             {.name = name_ + "/" + name, .trainable = o.trainable});
  own_weights_.push_back(v);
  return v;
}

std::vector<std::shared_ptr<Layer>> Layer::sublayers() const {
  std::lock_guard<std::mutex> lock(children_mu_);
  return children_;
}

std::vector<Variable> Layer::weights() const {
  std::vector<Variable> all = own_weights_;
  for (const auto& c : sublayers())
    for (const auto& w : c->weights())
      if (std::find(all.begin(), all.end(), w) == all.end()) all.push_back(w);
  return all;
}

std::vector<Variable> Layer::trainable_weights() const {
  std::vector<Variable> out;
  if (!trainable_) return out;
  for (const auto& w : own_weights_)
    if (w.trainable()) out.push_back(w);
  for (const auto& c : sublayers())
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
  if (built_.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(build_mu_);
  if (built_.load(std::memory_order_relaxed)) return;
  graph::EagerScope eager;
  build(shapes_of(xs));
  built_.store(true, std::memory_order_release);
}

Tensor Layer::operator()(const Tensor& x, bool training) { return (*this)(std::vector<Tensor>{x}, training)[0]; }

LayerOutputs::operator Tensor() const {
  if (size() != 1) {
    throw ValueError("[layer call] the layer returned " + std::to_string(size()) +
                     " tensors, which do not read as one Tensor; index the outputs ([0], [1], ...)");
  }
  return front();
}

LayerOutputs Layer::operator()(const std::vector<Tensor>& xs, bool training) {
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
  internal::NameScope name_scope(name_);
  if (!tracer) {
    std::vector<Tensor> outs = call(xs, training);
    // An eager run of a host-step layer tells its output shapes for later traces.
    if (dynamic_ || host_step_) {
      auto in = batchless(specs_of(xs));
      std::lock_guard<std::mutex> lock(host_specs_mu_);
      bool known = false;
      for (const auto& [i, o] : host_specs_) known = known || same_specs(i, in);
      if (!known) host_specs_.emplace_back(in, batchless(specs_of(outs)));
    }
    return outs;
  }
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

// Output specs of this layer as a host step for these inputs, if something already told them.
std::optional<std::vector<TensorSpec>> Layer::host_output_specs(const std::vector<Tensor>& xs) {
  if (auto shapes = compute_output_shape(shapes_of(xs))) {
    std::vector<TensorSpec> specs;
    for (const auto& s : *shapes) specs.push_back({xs[0].dtype(), s});
    return specs;
  }
  const auto in = batchless(specs_of(xs));
  std::lock_guard<std::mutex> lock(host_specs_mu_);
  for (const auto& [i, o] : host_specs_) {
    if (!same_specs(i, in)) continue;
    std::vector<TensorSpec> out = o;
    // Keep the batch dim of this trace where it is known and the output is batched like the input.
    for (auto& s : out)
      if (s.shape.rank() > 0 && !xs.empty() && xs[0].rank() > 0 && s.shape[0] == Shape::kUnknown)
        s.shape[0] = xs[0].shape()[0];
    return out;
  }
  return std::nullopt;
}

// Runs the layer eagerly on concrete values inside the graph. Its trainable weights' current values are
// extra inputs of the host step, so the gradient reaches them.
std::vector<Tensor> Layer::call_as_host_step(const std::vector<Tensor>& xs, bool training, const std::string& why) {
  host_step_ = true;
  if (!warned_.exchange(true)) {
    internal::log(
        config::LogLevel::Warning,
        "layer '" + name_ + "' (" + type_ + ") runs as a host step inside the compiled function (a graph break)" +
            (why.empty() ? "" : ": " + why.substr(0, why.find(". Instead"))) +
            ". The rest of the model stays compiled; rewrite it with duet ops (cond/where) to compile it too");
  }
  std::vector<Variable> ws = trainable_weights();
  std::vector<Tensor> ins = xs;
  for (const auto& w : ws) ins.push_back(w.value());
  const std::size_t n_x = xs.size();
  std::shared_ptr<Layer> self = handle_of(this);

  std::optional<std::vector<TensorSpec>> specs = host_output_specs(xs);
  if (!specs && !functional::building()) {
    throw graph::ConcreteRunNeeded("layer '" + name_ +
                                   "' runs as a host step and its output shapes are not known yet "
                                   "(no compute_output_shape): its first real call tells them");
  }
  if (!specs) {
    // A functional model is being built from Input tensors: no real data exists, so the layer runs once on
    // zeros shaped like its inputs (unknown dims as 1), and its weights are put back afterwards (an assign
    // during the probe writes a new buffer, since the saved handles still share the old one).
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
    CallingScope scope(this);
    auto outs = call(probe, training);
    {
      std::lock_guard<std::mutex> lock(host_specs_mu_);
      host_specs_.emplace_back(batchless(specs_of(xs)), batchless(specs_of(outs)));
    }
    specs = host_output_specs(xs);
  }

  // The backward needs the forward's tape only when a tape records this step (a training step).
  const bool record = internal::g_active_tapes > 0;
  auto run = [self, n_x, training, ws, record](const std::vector<Tensor>& all) {
    std::vector<Tensor> x(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n_x));
    CallingScope scope(self.get());
    std::vector<std::shared_ptr<void>>* keep = record ? exec::run_scoped(self.get()) : nullptr;
    if (!keep) return self->call(x, training);
    auto f = std::make_shared<ForwardTape>();
    for (const Tensor& t : x) {
      if (is_floating(t.dtype())) f->tape.watch(t);
      f->sources.emplace_back(t);
    }
    for (const auto& w : ws) {
      f->tape.watch(w);
      f->sources.emplace_back(w);
    }
    f->outputs = self->call(x, training);
    f->paused.emplace(f->tape);
    keep->push_back(f);
    return f->outputs;
  };
  HostFunctionOptions opts{.name = name_};
  opts.gradient = [self, n_x, ws, training](const std::vector<Tensor>& in, const std::vector<Tensor>&,
                                            const std::vector<Tensor>& ups) {
    // The forward run of this graph run recorded its tape (last in, first out: loops run backwards).
    std::vector<std::shared_ptr<void>>* keep = exec::run_scoped(self.get());
    if (keep && !keep->empty()) {
      auto f = std::static_pointer_cast<ForwardTape>(keep->back());
      keep->pop_back();
      f->paused.reset();
      Tensor target;
      for (std::size_t k = 0; k < f->outputs.size() && k < ups.size(); ++k) {
        if (!is_floating(f->outputs[k].dtype()) || !ups[k].defined()) continue;
        Tensor term = sum(f->outputs[k] * ups[k]);
        target = target.defined() ? target + term : term;
      }
      std::vector<Tensor> g;
      if (target.defined()) g = f->tape.gradient(target, f->sources, {.unconnected = UnconnectedGradients::Zero});
      std::vector<Tensor> out;
      for (std::size_t i = 0; i < f->sources.size(); ++i) {
        const Source& s = f->sources[i];
        out.push_back(i < g.size() && g[i].defined() ? g[i]
                      : s.variable.defined()         ? zeros(s.variable.shape(), s.variable.dtype())
                                                     : zeros_like(s.tensor));
      }
      return out;
    }
    // No recorded forward (the gradient of a step that ran outside a graph run): re-run the layer on a tape.
    std::vector<Source> srcs(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n_x));
    srcs.insert(srcs.end(), ws.begin(), ws.end());
    return internal::vjp(
        [&] {
          CallingScope scope(self.get());
          return self->call(std::vector<Tensor>(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n_x)), training);
        },
        srcs, ups);
  };
  return host_function(run, ins, *specs, opts);
}

Tensor Input(const std::vector<std::int64_t>& shape, DType dtype, const std::string& name) {
  for (auto d : shape)
    if (d < 0)
      throw ShapeError("[Input] per-example dims must be known, got a negative dim; the batch dim is added as None");
  Shape s{Shape::kUnknown};
  for (auto d : shape) s.push_back(d);
  return functional::new_input({dtype, s}, name);
}

}  // namespace duet
