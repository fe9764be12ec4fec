// The tape and the one backward walk. Records hold the op, its inputs, outputs and attrs; gradient()
// replays them in reverse, calling each OpDef's gradient (public ops, so the walk is itself recorded by
// any outer tape and traced inside functions).
#include "duet/tape.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "core/tensor_impl.h"
#include "duet/ops.h"
#include "ops/op_def.h"
#include "ops/variable_impl.h"

namespace duet {

const OpDef& read_variable_op();

struct Record {
  const OpDef* op;
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;
  Attrs attrs;
};

struct GradientTape::Impl {
  TapeOptions options;
  std::vector<Record> records;
  std::unordered_set<const TensorImpl*> tracked;
  std::unordered_set<const VariableImpl*> watched_vars;
  std::vector<Variable> accessed;       // first-read order
  std::vector<Tensor> watched_tensors;  // keeps watched impls alive, so their addresses stay unique
  bool paused = false;
  bool used = false;
};

// The tape's internals, for the recording hook and the backward walk (GradientTape::Impl is private).
struct TapeInternals {
  using Impl = GradientTape::Impl;
};
using TapeImpl = TapeInternals::Impl;

namespace {
thread_local std::vector<TapeImpl*> t_tapes;

bool should_record(TapeImpl& t, const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs) {
  if (&op == &read_variable_op()) {
    const VarRef& v = attrs.var("var");
    if (t.watched_vars.count(v.get())) return true;
    if (t.options.watch_accessed_variables && v->trainable) {
      t.watched_vars.insert(v.get());
      t.accessed.push_back(VariableAccess::wrap(v));
      return true;
    }
    return false;
  }
  for (const Tensor& x : inputs)
    if (t.tracked.count(x.impl())) return true;
  return false;
}
}  // namespace

namespace {
void record_on_tapes(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs,
                     std::span<const Tensor> outputs) {
  for (TapeImpl* t : t_tapes) {
    if (t->paused || !should_record(*t, op, inputs, attrs)) continue;
    for (const Tensor& o : outputs) t->tracked.insert(o.impl());
    t->records.push_back(Record{&op, {inputs.begin(), inputs.end()}, {outputs.begin(), outputs.end()}, attrs});
  }
}
// Plugs the tapes into dispatch (ops cannot call up into autodiff).
const bool kTapeHooked = [] {
  internal::dispatch_hooks().record_on_tapes = &record_on_tapes;
  return true;
}();
}  // namespace

GradientTape::GradientTape(TapeOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  t_tapes.push_back(impl_.get());
  ++internal::g_active_tapes;
}

GradientTape::~GradientTape() { close(); }

void GradientTape::close() {
  auto it = std::find(t_tapes.begin(), t_tapes.end(), impl_.get());
  if (it != t_tapes.end()) {
    t_tapes.erase(it);
    --internal::g_active_tapes;
  }
}

void GradientTape::watch(const Tensor& t) {
  if (!t.defined()) throw ValueError("[GradientTape::watch] got an undefined Tensor handle");
  if (!is_floating(t.dtype())) {
    throw DTypeError(std::string("[GradientTape::watch] only float tensors have gradients, got ") +
                     dtype_name(t.dtype()) + " " + t.shape().str() + "; cast it to float32 first");
  }
  impl_->tracked.insert(t.impl());
  impl_->watched_tensors.push_back(t);
}

void GradientTape::watch(const Variable& v) {
  if (!v.defined()) throw ValueError("[GradientTape::watch] got an empty Variable handle");
  if (impl_->watched_vars.insert(v.ref().get()).second) impl_->accessed.push_back(v);
}

std::vector<Variable> GradientTape::watched_variables() const { return impl_->accessed; }

GradientTape::Pause::Pause(GradientTape& t) : tape_(t), was_paused_(t.impl_->paused) { t.impl_->paused = true; }
GradientTape::Pause::~Pause() { tape_.impl_->paused = was_paused_; }

namespace {
void accumulate(std::unordered_map<const void*, Tensor>& m, const void* key, const Tensor& g) {
  auto [it, inserted] = m.try_emplace(key, g);
  if (!inserted) it->second = add(it->second, g);
}
}  // namespace

std::vector<Tensor> GradientTape::gradient(const Tensor& target, const std::vector<Source>& sources,
                                           const GradientOptions& o) {
  Impl& t = *impl_;
  if (t.used && !t.options.persistent) {
    throw StateError(
        "[GradientTape::gradient] a non-persistent tape can compute gradients only once; "
        "create it with TapeOptions{.persistent = true} to call gradient() several times");
  }
  if (!target.defined()) throw ValueError("[GradientTape::gradient] target is an undefined Tensor handle");
  if (!is_floating(target.dtype())) {
    throw DTypeError(std::string("[GradientTape::gradient] target must be a float tensor, got ") +
                     dtype_name(target.dtype()) + " " + target.shape().str());
  }
  t.used = true;
  Pause pause(*this);  // the walk itself is not recorded on this tape (outer tapes still record it)

  std::unordered_map<const void*, Tensor> grads;  // TensorImpl* or VariableImpl* -> gradient
  Tensor seed = o.output_gradient.defined() ? o.output_gradient : ones_like(target);
  if (seed.shape() != target.shape() && seed.shape().is_fully_known() && target.shape().is_fully_known()) {
    throw ShapeError("[GradientTape::gradient] output_gradient has shape " + seed.shape().str() +
                     " but the target has " + target.shape().str());
  }
  grads.emplace(target.impl(), seed);

  for (auto r = t.records.rbegin(); r != t.records.rend(); ++r) {
    bool any = false;
    for (const Tensor& out : r->outputs) any = any || grads.count(out.impl());
    if (!any) continue;
    if (r->op == &read_variable_op()) {
      accumulate(grads, r->attrs.var("var").get(), grads.at(r->outputs[0].impl()));
      continue;
    }
    std::vector<Tensor> upstream;
    for (const Tensor& out : r->outputs) {
      auto it = grads.find(out.impl());
      upstream.push_back(it != grads.end() ? it->second : zeros_like(out));
    }
    std::uint64_t needed = 0;
    for (std::size_t i = 0; i < r->inputs.size() && i < 64; ++i)
      if (t.tracked.count(r->inputs[i].impl())) needed |= std::uint64_t{1} << i;
    GradContext ctx{r->inputs, r->outputs, upstream, r->attrs, needed};
    std::vector<Tensor> in_grads = r->op->grad(ctx);
    for (std::size_t i = 0; i < r->inputs.size() && i < in_grads.size(); ++i) {
      if (!in_grads[i].defined()) continue;
      const TensorImpl* key = r->inputs[i].impl();
      if (!t.tracked.count(key)) continue;
      accumulate(grads, key, in_grads[i]);
    }
  }

  std::vector<Tensor> result;
  for (const Source& s : sources) {
    const void* key = s.variable.defined() ? static_cast<const void*>(s.variable.ref().get()) : s.tensor.impl();
    if (!key) throw ValueError("[GradientTape::gradient] a source is an undefined Tensor or Variable handle");
    auto it = grads.find(key);
    if (it != grads.end()) {
      result.push_back(it->second);
    } else if (o.unconnected == UnconnectedGradients::Zero) {
      result.push_back(s.variable.defined() ? zeros(s.variable.shape(), s.variable.dtype()) : zeros_like(s.tensor));
    } else {
      result.emplace_back();
    }
  }
  return result;
}

Tensor GradientTape::gradient(const Tensor& target, const Source& source, const GradientOptions& o) {
  return gradient(target, std::vector<Source>{source}, o)[0];
}

}  // namespace duet
