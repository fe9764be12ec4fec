// Variable reads and writes as ops (stateful: never folded, merged or removed).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <ostream>
#include <type_traits>

#include "core/convert.h"
#include "core/tensor_impl.h"
#include "duet/ops.h"
#include "kernels/elementwise_kernels.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "ops/infer_util.h"
#include "ops/registry.h"
#include "ops/variable_impl.h"

namespace duet {
namespace {

void infer_read(InferContext& c) {
  const VarRef& v = c.attrs.var("var");
  c.set_output(v->dtype, v->shape);
}

// assign: the value has the variable's shape; assign_add/sub: the delta broadcasts to it.
void infer_assign_common(InferContext& c, bool broadcast) {
  const VarRef& v = c.attrs.var("var");
  if (c.dtype(0) != v->dtype) {
    c.dtype_error("variable '" + v->name + "' holds " + dtype_name(v->dtype) + " " + v->shape.str() + ", got a " +
                  dtype_name(c.dtype(0)) + " value; cast() it first");
  }
  // An unknown dim (a batch dim while tracing) may turn out to fit: it is checked again when the step runs,
  // with the real shape (as TensorFlow does).
  const Shape& x = c.shape(0);
  bool fits = broadcast ? x.rank() <= v->shape.rank() : x.compatible_with(v->shape);
  for (int i = 0; broadcast && fits && i < x.rank(); ++i) {
    const std::int64_t d = x[i], want = v->shape[v->shape.rank() - x.rank() + i];
    fits = d == Shape::kUnknown || d == 1 || d == want;
  }
  if (!fits) {
    c.shape_error("variable '" + v->name + "' has shape " + v->shape.str() + ", got a value of shape " + x.str() +
                  (broadcast ? " (it must broadcast to the variable's shape)" : "") + "; a variable keeps its shape");
  }
  c.set_output(v->dtype, v->shape);
}
void infer_assign(InferContext& c) { infer_assign_common(c, false); }
void infer_assign_update(InferContext& c) { infer_assign_common(c, true); }

void read_kernel(KernelContext& k) {
  const VarRef& v = k.attrs.var("var");
  k.outputs[0] = make_view(v->value, v->shape);
}

// Where a write to v goes: v's own buffer when nobody else holds it, else a new one (copy on write, so
// tensors read earlier keep the value they had; memory the engine does not own is never written).
// Decide before taking any other reference to v.value.
Tensor write_target(const VariableImpl& v) {
  TensorImpl* t = v.value.impl();
  const bool sole_owner = t->refs.load() == 1 && t->buffer->refs.load() == 1 && !buffer_is_external(t->buffer);
  return sole_owner ? v.value : make_concrete(v.dtype, v.shape);
}

// Every element is read before it is written, so computing in place is safe.
template <class Combine>
void update(KernelContext& k, Combine combine) {
  VariableImpl& v = *k.attrs.var("var");
  Tensor out = write_target(v);
  Tensor in[2] = {v.value, k.inputs[0]};
  KernelContext kc{k.op, std::span<const Tensor>(in, 2), k.attrs, k.specs, std::span<Tensor>(&out, 1)};
  combine(kc);
  v.value = std::move(out);
  k.outputs[0] = make_view(v.value, v.shape);
}

void assign_kernel(KernelContext& k) {
  VariableImpl& v = *k.attrs.var("var");
  const Tensor& x = k.inputs[0];
  Tensor out = write_target(v);
  std::memcpy(raw(out), raw(x), static_cast<std::size_t>(x.num_elements()) * dtype_size(x.dtype()));
  v.value = std::move(out);
  k.outputs[0] = make_view(v.value, v.shape);
}
void assign_add_kernel(KernelContext& k) { update(k, kernels::binary<kernels::fn::Add>); }
void assign_sub_kernel(KernelContext& k) { update(k, kernels::binary<kernels::fn::Sub>); }

void infer_apply_adam(InferContext& c) {
  const VarRef& w = c.attrs.var("var");
  for (const char* slot : {"m", "v"}) {
    const VarRef& s = c.attrs.var(slot);
    if (s->dtype != w->dtype || s->shape != w->shape) {
      c.value_error(std::string("slot ") + slot + " ('" + s->name + "', " + dtype_name(s->dtype) + " " +
                    s->shape.str() + ") must have the dtype and shape of variable '" + w->name + "' (" +
                    dtype_name(w->dtype) + " " + w->shape.str() + ")");
    }
  }
  if (!is_floating(w->dtype))
    c.dtype_error("variable '" + w->name + "' holds " + dtype_name(w->dtype) +
                  "; Adam updates floating-point variables");
  if (c.dtype(0) != w->dtype || !c.shape(0).compatible_with(w->shape)) {
    c.shape_error("the gradient (" + std::string(dtype_name(c.dtype(0))) + " " + c.shape(0).str() +
                  ") must match variable '" + w->name + "' (" + dtype_name(w->dtype) + " " + w->shape.str() + ")");
  }
  const char* names[] = {"grad", "lr_t", "beta_1", "beta_2", "epsilon", "decay"};
  for (std::size_t i = 1; i < 6; ++i) {
    // beta_1 and beta_2 may also be float64 scalars (1 - beta is then computed in double, as Keras does)
    const bool dtype_ok = c.dtype(i) == w->dtype || ((i == 2 || i == 3) && c.dtype(i) == DType::Float64);
    if (!dtype_ok || c.shape(i).rank() != 0) {
      c.shape_error(std::string(names[i]) + " must be a scalar of dtype " + dtype_name(w->dtype) + ", got " +
                    dtype_name(c.dtype(i)) + " " + c.shape(i).str());
    }
  }
  c.set_output(w->dtype, w->shape);
}

// Writes each variable through write_target, as the assign ops do; every element is read before it is
// written, so the pass is safe in place.
void apply_adam_kernel(KernelContext& k) {
  VariableImpl* vars[3] = {k.attrs.var("var").get(), k.attrs.var("m").get(), k.attrs.var("v").get()};
  Tensor old[3], out[3];
  for (int i = 0; i < 3; ++i) {
    out[i] = write_target(*vars[i]);  // before old[i] takes a reference
    old[i] = vars[i]->value;
  }
  auto scalar_in = [&](std::size_t i) {
    return k.inputs[i].dtype() == DType::Float32 ? double(*ptr<float>(k.inputs[i])) : *ptr<double>(k.inputs[i]);
  };
  const double b1 = scalar_in(2), b2 = scalar_in(3), eps = scalar_in(4), decay = scalar_in(5);
  // Hyperparameters are values read at run time, so their range is checked here (before anything is written).
  if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1) || !(eps >= 0) || !(decay >= 0 && decay < 1)) {
    char got[160];
    std::snprintf(got, sizeof got, "beta_1=%g, beta_2=%g, epsilon=%g, decay=%g", b1, b2, eps, decay);
    throw ValueError("[apply_adam] variable '" + vars[0]->name +
                     "': need 0 <= beta_1, beta_2 < 1, epsilon >= 0 and 0 <= decay < 1; got " + got);
  }
  visit_dtype(k.inputs[0].dtype(), [&](auto z) {
    using T = decltype(z);
    if constexpr (std::is_floating_point_v<T>) {
      const T* g = static_cast<const T*>(raw(k.inputs[0]));
      const T lr = *static_cast<const T*>(raw(k.inputs[1]));
      const T* w0 = static_cast<const T*>(raw(old[0]));
      const T* m0 = static_cast<const T*>(raw(old[1]));
      const T* v0 = static_cast<const T*>(raw(old[2]));
      T* w1 = static_cast<T*>(raw(out[0]));
      T* m1 = static_cast<T*>(raw(out[1]));
      T* v1 = static_cast<T*>(raw(out[2]));
      const T B1 = static_cast<T>(b1), C1 = static_cast<T>(1 - b1), B2 = static_cast<T>(b2),
              C2 = static_cast<T>(1 - b2);
      const T E = static_cast<T>(eps), D = static_cast<T>(decay);
      parallel_for(old[0].num_elements(), kParallelGrain, [&](std::int64_t s, std::int64_t e) {
      // In place, outputs alias inputs index for index only: no dependence between iterations.
#pragma omp simd
        for (std::int64_t i = s; i < e; ++i) {
          const T gi = g[i];
          const T mi = m0[i] * B1 + gi * C1;
          const T vi = v0[i] * B2 + gi * gi * C2;
          T wi = w0[i];
          wi -= wi * D;
          w1[i] = wi - lr * mi / (std::sqrt(vi) + E);
          m1[i] = mi;
          v1[i] = vi;
        }
      });
    }
  });
  for (int i = 0; i < 3; ++i) vars[i]->value = out[i];
  k.outputs[0] = make_view(vars[0]->value, vars[0]->shape);
}

// Reads are recorded by tapes; the backward walk routes their gradient to the variable itself.
std::vector<Tensor> grad_read(const GradContext&) { return {}; }

constexpr std::uint32_t kState = kStateful | kView;
const OpDef kReadVariable{.name = "ReadVariable",
                          .public_name = "Variable::value",
                          .num_inputs = 0,
                          .infer = infer_read,
                          .kernel = read_kernel,
                          .grad = grad_read,
                          .traits = kState};
const OpDef kAssignVariable{.name = "AssignVariable",
                            .public_name = "Variable::assign",
                            .num_inputs = 1,
                            .infer = infer_assign,
                            .kernel = assign_kernel,
                            .grad = nullptr,
                            .traits = kState};
const OpDef kAssignAddVariable{.name = "AssignAddVariable",
                               .public_name = "Variable::assign_add",
                               .num_inputs = 1,
                               .infer = infer_assign_update,
                               .kernel = assign_add_kernel,
                               .grad = nullptr,
                               .traits = kState};
const OpDef kAssignSubVariable{.name = "AssignSubVariable",
                               .public_name = "Variable::assign_sub",
                               .num_inputs = 1,
                               .infer = infer_assign_update,
                               .kernel = assign_sub_kernel,
                               .grad = nullptr,
                               .traits = kState};
const OpDef kApplyAdam{.name = "ApplyAdam",
                       .public_name = "apply_adam",
                       .num_inputs = 6,
                       .infer = infer_apply_adam,
                       .kernel = apply_adam_kernel,
                       .grad = nullptr,
                       .traits = kState};

std::mutex g_vars_mu;
std::vector<std::weak_ptr<VariableImpl>> g_vars;

void register_variable(const VarRef& v) {
  std::lock_guard<std::mutex> lock(g_vars_mu);
  if (g_vars.size() >= 64 && (g_vars.size() & (g_vars.size() - 1)) == 0) {  // prune at powers of two
    g_vars.erase(std::remove_if(g_vars.begin(), g_vars.end(), [](const auto& w) { return w.expired(); }), g_vars.end());
  }
  g_vars.push_back(v);
}

VariableImpl& checked(const VarRef& v) {
  if (!v) throw StateError("[Variable] used an empty Variable handle (default-constructed); construct it with a value");
  return *v;
}

}  // namespace

const OpDef& read_variable_op() { return kReadVariable; }

static void register_state_ops(std::vector<const OpDef*>& r) {
  for (const OpDef* d : {&kReadVariable, &kAssignVariable, &kAssignAddVariable, &kAssignSubVariable, &kApplyAdam})
    r.push_back(d);
}
const OpRegistration kRegisterStateOps{register_state_ops};

Variable::Variable(const Tensor& initial_in, VariableOptions o) : impl_(std::make_shared<VariableImpl>()) {
  if (!initial_in.defined()) throw ValueError("[Variable] '" + o.name + "' needs a defined initial value");
  std::string why;
  auto& hooks = internal::dispatch_hooks();
  if (internal::current_tracer() && hooks.variable_creation_allowed && !hooks.variable_creation_allowed(&why)) {
    throw StateError(
        "[Variable] '" + o.name + "' was created " + why +
        ": variables may only be created the first time a function is traced (TensorFlow's rule). Create it "
        "outside the function, or once on the first call and keep it");
  }
  Tensor initial = initial_in;
  if (initial.is_symbolic()) {
    // An initializer written inside a traced function (random::normal(...)) is lifted out and run now.
    initial = hooks.evaluate_if_constant ? hooks.evaluate_if_constant(initial) : Tensor();
    if (!initial.defined()) {
      throw ValueError("[Variable] '" + o.name +
                       "' has an initial value that depends on the traced function's inputs (" + initial_in.str() +
                       "); initialize it from values known before the call");
    }
  }
  impl_->value = make_concrete(initial.dtype(), initial.shape());
  std::memcpy(raw(impl_->value), raw(initial),
              static_cast<std::size_t>(initial.num_elements()) * dtype_size(initial.dtype()));
  impl_->name = std::move(o.name);
  impl_->trainable = o.trainable;
  impl_->dtype = initial.dtype();
  impl_->shape = initial.shape();
  register_variable(impl_);
}

std::vector<VarRef> internal::live_variables() {
  std::lock_guard<std::mutex> lock(g_vars_mu);
  std::vector<VarRef> out;
  for (const auto& w : g_vars)
    if (auto v = w.lock()) out.push_back(std::move(v));
  return out;
}

Tensor Variable::value() const {
  checked(impl_);
  return dispatch1(kReadVariable, {}, {{"var", impl_}});
}
Tensor Variable::assign(const Tensor& v) const {
  checked(impl_);
  return call(kAssignVariable, {v}, {{"var", impl_}});
}
Tensor Variable::assign_add(const Tensor& d) const {
  checked(impl_);
  return call(kAssignAddVariable, {d.defined() && d.dtype() != impl_->dtype ? cast(d, impl_->dtype) : d},
              {{"var", impl_}});
}
Tensor Variable::assign_sub(const Tensor& d) const {
  checked(impl_);
  return call(kAssignSubVariable, {d.defined() && d.dtype() != impl_->dtype ? cast(d, impl_->dtype) : d},
              {{"var", impl_}});
}
Tensor apply_adam(const Variable& w, const Variable& m, const Variable& v, const Tensor& grad, const Tensor& lr_t,
                  const Tensor& beta_1, const Tensor& beta_2, const Tensor& epsilon, const Tensor& decay) {
  checked(w.ref());
  checked(m.ref());
  checked(v.ref());
  if (w == m || w == v || m == v) {
    throw ValueError("[apply_adam] the variable '" + w.name() + "' and its slots '" + m.name() + "' and '" + v.name() +
                     "' must be three different variables");
  }
  return call(kApplyAdam, {grad, lr_t, beta_1, beta_2, epsilon, decay},
              {{"var", w.ref()}, {"m", m.ref()}, {"v", v.ref()}});
}

Tensor apply_adam(const Variable& w, const Variable& m, const Variable& v, const Tensor& grad, const Tensor& lr_t,
                  double beta_1, double beta_2, double epsilon, double decay) {
  const DType d = w.defined() ? w.dtype() : DType::Float32;
  return apply_adam(w, m, v, grad, lr_t, full({}, beta_1, d), full({}, beta_2, d), full({}, epsilon, d),
                    full({}, decay, d));
}

Hyperparameter::Hyperparameter(double value, const std::string& name, std::function<void(double)> check)
    : check_(std::move(check)) {
  if (check_) check_(value);
  var_ = Variable(scalar(value), {.name = name, .trainable = false});
}
Hyperparameter& Hyperparameter::operator=(double value) {
  if (check_) check_(value);
  var_.assign(scalar(value));
  return *this;
}
double Hyperparameter::get() const { return checked(var_.ref()).value.item<double>(); }
Tensor Hyperparameter::value(DType dtype) const { return cast(var_.value(), dtype); }

const std::string& Variable::name() const { return checked(impl_).name; }
bool Variable::trainable() const { return checked(impl_).trainable; }
void Variable::set_trainable(bool t) const { checked(impl_).trainable = t; }
DType Variable::dtype() const { return checked(impl_).dtype; }
const Shape& Variable::shape() const { return checked(impl_).shape; }

std::string variable_name(const VarRef& v) { return v ? v->name : "<null>"; }

std::ostream& operator<<(std::ostream& os, const Variable& v) {
  if (!v.defined()) return os << "Variable(<undefined>)";
  std::string s = v.ref()->value.str();
  // "Tensor(" -> "Variable('name', ..."
  return os << "Variable('" << v.name() << "', " << s.substr(7);
}

}  // namespace duet
