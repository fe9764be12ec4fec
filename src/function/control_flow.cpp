// cond and while_loop: eagerly they simply run; traced they become Cond/While nodes whose branches and
// body are compiled subgraphs (which may capture outer tensors). Gradients replay the subgraphs under a
// tape: cond's gradient is a cond of the branches' gradients; while's runs the body's gradient backwards
// over the loop's recorded history.
#include "duet/function.h"
#include "duet/ops.h"
#include "function/subgraph.h"
#include "ops/infer_util.h"
#include "ops/registry.h"

namespace duet {
namespace {

using graph::Subgraph;

struct CondBranches : Callable {
  Subgraph then_g, else_g;
  std::vector<TensorSpec> outputs;
  std::string describe() const override { return "branches:" + then_g.graph->name(); }
};

struct WhileBody : Callable {
  Subgraph cond_g, body_g;
  std::size_t n_vars = 0;
  std::int64_t max_iterations = 0;
  bool keep_history = false;  // also output the trip count and every iteration's loop variables (for gradients)
  std::vector<TensorSpec> var_specs;
  std::string describe() const override { return "body:" + body_g.graph->name(); }
};

bool truth(const Tensor& p, const char* op) {
  if (p.num_elements() != 1) {
    throw ValueError(std::string("[") + op + "] the predicate must have exactly one element, got shape " +
                     p.shape().str() + "; for elementwise choice use where(cond, a, b)");
  }
  return p.item<double>() != 0.0;
}

Tensor scalar_pred(const Tensor& pred, const char* op) {
  if (pred.num_elements() >= 0 && pred.num_elements() != 1) {
    throw ValueError(std::string("[") + op + "] the predicate must have exactly one element, got shape " +
                     pred.shape().str() +
                     "; reduce it (max, min, sum) first, or use where(cond, a, b) for an elementwise choice");
  }
  return pred.dtype() == DType::Bool ? pred : not_equal(pred, internal::weak_scalar(pred, 0, false));
}

// ---- Cond ----
void infer_cond(InferContext& c) {
  const auto& b = static_cast<const CondBranches&>(*c.attrs.fn("branches"));
  for (const auto& s : b.outputs) c.set_output(s.dtype, s.shape);
}

void cond_kernel(KernelContext& k) {
  const auto& b = static_cast<const CondBranches&>(*k.attrs.fn("branches"));
  const std::size_t n_then = b.then_g.captured.size();
  bool p = truth(k.inputs[0], "cond");
  std::size_t first = 1 + (p ? 0 : n_then);
  std::size_t n = p ? n_then : b.else_g.captured.size();
  std::vector<Tensor> outs = (p ? b.then_g : b.else_g).plan->run(k.inputs.subspan(first, n));
  for (std::size_t i = 0; i < outs.size(); ++i) k.outputs[i] = outs[i];
}

// d cond(p, f, g) = cond(p, vjp(f), vjp(g)) over the captured tensors (zeros for the other branch's).
std::vector<Tensor> grad_cond(const GradContext& c) {
  const auto& b = static_cast<const CondBranches&>(*c.attrs.fn("branches"));
  const std::size_t n_then = b.then_g.captured.size(), n_else = b.else_g.captured.size();
  std::vector<Tensor> caps(c.inputs.begin() + 1, c.inputs.end());
  std::vector<Tensor> ups(c.grads.begin(), c.grads.end());
  std::vector<std::size_t> wanted;  // capture indices that get gradients
  for (std::size_t i = 0; i < caps.size(); ++i)
    if (c.needs(i + 1) && is_floating(caps[i].dtype())) wanted.push_back(i);
  if (wanted.empty()) return std::vector<Tensor>(c.inputs.size());
  auto branch = [&](bool then_side) {
    return [&, then_side]() {
      const Subgraph& s = then_side ? b.then_g : b.else_g;
      std::vector<Tensor> args(caps.begin() + (then_side ? 0 : static_cast<std::ptrdiff_t>(n_then)),
                               caps.begin() + (then_side ? static_cast<std::ptrdiff_t>(n_then)
                                                         : static_cast<std::ptrdiff_t>(n_then + n_else)));
      std::vector<bool> want(args.size(), false);
      for (std::size_t i : wanted) {
        bool mine = then_side ? i < n_then : i >= n_then;
        if (mine) want[then_side ? i : i - n_then] = true;
      }
      std::vector<Tensor> g = graph::graph_vjp(*s.graph, args, ups, want);
      std::vector<Tensor> r;
      for (std::size_t i : wanted) {
        bool mine = then_side ? i < n_then : i >= n_then;
        r.push_back(mine ? g[then_side ? i : i - n_then] : zeros_like(caps[i]));
      }
      return r;
    };
  };
  std::vector<Tensor> gs = cond(c.inputs[0], branch(true), branch(false));
  std::vector<Tensor> result(c.inputs.size());
  for (std::size_t k = 0; k < wanted.size(); ++k) result[wanted[k] + 1] = gs[k];
  return result;
}

// ---- While ----
void infer_while(InferContext& c) {
  const auto& w = static_cast<const WhileBody&>(*c.attrs.fn("body"));
  for (const auto& s : w.var_specs) c.set_output(s.dtype, s.shape);
  if (w.keep_history) {
    c.set_output(DType::Int64, Shape{});
    for (const auto& s : w.var_specs) {
      Shape h{Shape::kUnknown};
      for (auto d : s.shape) h.push_back(d);
      c.set_output(s.dtype, h);
    }
  }
}

void while_kernel(KernelContext& k) {
  const auto& w = static_cast<const WhileBody&>(*k.attrs.fn("body"));
  const std::size_t n = w.n_vars, nc = w.cond_g.captured.size();
  std::vector<Tensor> vars(k.inputs.begin(), k.inputs.begin() + static_cast<std::ptrdiff_t>(n));
  std::vector<std::vector<Tensor>> history(w.keep_history ? n : 0);
  std::int64_t iters = 0;
  std::vector<Tensor> args;
  for (;;) {
    if (w.max_iterations > 0 && iters >= w.max_iterations) break;
    args = vars;
    args.insert(args.end(), k.inputs.begin() + static_cast<std::ptrdiff_t>(n),
                k.inputs.begin() + static_cast<std::ptrdiff_t>(n + nc));
    if (!truth(w.cond_g.plan->run(args)[0], "while_loop")) break;
    if (w.keep_history)
      for (std::size_t i = 0; i < n; ++i) history[i].push_back(vars[i]);
    args = vars;
    args.insert(args.end(), k.inputs.begin() + static_cast<std::ptrdiff_t>(n + nc), k.inputs.end());
    std::vector<Tensor> next = w.body_g.plan->run(args);
    for (std::size_t i = 0; i < n; ++i) {
      if (!w.var_specs[i].shape.compatible_with(next[i].shape())) {
        throw ShapeError("[while_loop] loop variable " + std::to_string(i) + " changed shape from " +
                         w.var_specs[i].shape.str() + " to " + next[i].shape().str() + " in iteration " +
                         std::to_string(iters));
      }
    }
    vars = std::move(next);
    ++iters;
  }
  for (std::size_t i = 0; i < n; ++i) k.outputs[i] = vars[i];
  if (w.keep_history) {
    k.outputs[n] = full(Shape{}, static_cast<double>(iters), DType::Int64);
    for (std::size_t i = 0; i < n; ++i) {
      if (iters == 0) {
        Shape h{0};
        for (auto d : vars[i].shape()) h.push_back(d);
        k.outputs[n + 1 + i] = zeros(h, vars[i].dtype());
        continue;
      }
      for (const Tensor& h : history[i]) {
        if (h.shape() != history[i][0].shape()) {
          throw ShapeError("[while_loop] gradients need loop variable " + std::to_string(i) +
                           " to keep one shape across iterations, got " + history[i][0].shape().str() + " and " +
                           h.shape().str());
        }
      }
      k.outputs[n + 1 + i] = stack(history[i], 0);
    }
  }
}

// Runs the body's vector-Jacobian product backwards over the recorded iterations:
// i = iters-1 .. 0: (g_vars, g_caps) <- vjp(body at vars_i)(g_vars), accumulating g_caps.
std::vector<Tensor> grad_while(const GradContext& c) {
  const auto& w = static_cast<const WhileBody&>(*c.attrs.fn("body"));
  if (!w.keep_history) {
    throw StateError(
        "[while_loop] no gradient: the loop ran without recording its history (it was traced while no "
        "GradientTape was recording it)");
  }
  const std::size_t n = w.n_vars, nc = w.cond_g.captured.size(), nb = w.body_g.captured.size();
  std::vector<Tensor> body_caps(c.inputs.begin() + static_cast<std::ptrdiff_t>(n + nc), c.inputs.end());
  std::vector<bool> var_float(n), cap_want(nb);
  for (std::size_t i = 0; i < n; ++i) var_float[i] = is_floating(w.var_specs[i].dtype);
  for (std::size_t i = 0; i < nb; ++i) cap_want[i] = c.needs(n + nc + i) && is_floating(body_caps[i].dtype());
  Tensor count = c.outputs[n];
  std::vector<Tensor> loop;  // [i, g_vars (float ones), g_caps (wanted ones)]
  loop.push_back(count - 1);
  for (std::size_t i = 0; i < n; ++i)
    if (var_float[i]) loop.push_back(c.grads[i]);
  for (std::size_t i = 0; i < nb; ++i)
    if (cap_want[i]) loop.push_back(zeros_like(body_caps[i]));
  auto body = [&](const std::vector<Tensor>& v) {
    const Tensor& idx = v[0];
    std::vector<Tensor> args;
    for (std::size_t i = 0; i < n; ++i)
      args.push_back(gather(c.outputs[n + 1 + i], reshape(idx, std::vector<std::int64_t>{}), 0));
    args.insert(args.end(), body_caps.begin(), body_caps.end());
    std::vector<Tensor> ups(n);
    std::size_t k = 1;
    for (std::size_t i = 0; i < n; ++i)
      if (var_float[i]) ups[i] = v[k++];
    std::vector<bool> want(args.size(), false);
    for (std::size_t i = 0; i < n; ++i) want[i] = var_float[i];
    for (std::size_t i = 0; i < nb; ++i) want[n + i] = cap_want[i];
    std::vector<Tensor> g = graph::graph_vjp(*w.body_g.graph, args, ups, want);
    std::vector<Tensor> next{idx - 1};
    for (std::size_t i = 0; i < n; ++i)
      if (var_float[i]) next.push_back(g[i]);
    for (std::size_t i = 0; i < nb; ++i)
      if (cap_want[i]) next.push_back(v[k++] + g[n + i]);
    return next;
  };
  std::vector<Tensor> out = while_loop([](const std::vector<Tensor>& v) { return v[0] >= 0; }, body, loop);
  std::vector<Tensor> result(c.inputs.size());
  std::size_t k = 1;
  for (std::size_t i = 0; i < n; ++i)
    if (var_float[i]) result[i] = out[k++];
  for (std::size_t i = 0; i < nb; ++i)
    if (cap_want[i]) result[n + nc + i] = out[k++];
  return result;
}

const OpDef kCond{.name = "Cond",
                  .public_name = "cond",
                  .num_inputs = -1,
                  .infer = infer_cond,
                  .kernel = cond_kernel,
                  .grad = grad_cond,
                  .traits = kView | kNotFoldable | kRunsGraphs};
const OpDef kWhile{.name = "While",
                   .public_name = "while_loop",
                   .num_inputs = -1,
                   .infer = infer_while,
                   .kernel = while_kernel,
                   .grad = grad_while,
                   .traits = kView | kNotFoldable | kRunsGraphs};

// Output specs of two branches: equal dtypes and counts; dims that differ become unknown.
std::vector<TensorSpec> merge_branch_specs(const Subgraph& a, const Subgraph& b) {
  if (a.outputs.size() != b.outputs.size()) {
    throw ValueError("[cond] the branches return different numbers of tensors: " + std::to_string(a.outputs.size()) +
                     " vs " + std::to_string(b.outputs.size()));
  }
  std::vector<TensorSpec> out;
  for (std::size_t i = 0; i < a.outputs.size(); ++i) {
    const TensorSpec& x = a.outputs[i];
    const TensorSpec& y = b.outputs[i];
    if (x.dtype != y.dtype) {
      throw DTypeError("[cond] output " + std::to_string(i) + " is " + dtype_name(x.dtype) + " in then_fn but " +
                       dtype_name(y.dtype) + " in else_fn; cast() one branch's result");
    }
    Shape s;
    if (x.shape.rank() == y.shape.rank()) {
      for (int d = 0; d < x.shape.rank(); ++d) s.push_back(x.shape[d] == y.shape[d] ? x.shape[d] : Shape::kUnknown);
    } else {
      throw ShapeError("[cond] output " + std::to_string(i) + " has shape " + x.shape.str() + " in then_fn but " +
                       y.shape.str() + " in else_fn (different ranks)");
    }
    out.push_back({x.dtype, s});
  }
  return out;
}

std::vector<Tensor> traced_cond(const Tensor& pred, const std::function<std::vector<Tensor>()>& then_fn,
                                const std::function<std::vector<Tensor>()>& else_fn) {
  auto b = std::make_shared<CondBranches>();
  const std::string base = graph::current_graph_tracer()->graph().name();
  b->then_g = graph::trace_subgraph(base + "/cond_then", {}, [&](const std::vector<Tensor>&) { return then_fn(); });
  b->else_g = graph::trace_subgraph(base + "/cond_else", {}, [&](const std::vector<Tensor>&) { return else_fn(); });
  b->outputs = merge_branch_specs(b->then_g, b->else_g);
  graph::compile(b->then_g);
  graph::compile(b->else_g);
  std::vector<Tensor> inputs{scalar_pred(pred, "cond")};
  inputs.insert(inputs.end(), b->then_g.captured.begin(), b->then_g.captured.end());
  inputs.insert(inputs.end(), b->else_g.captured.begin(), b->else_g.captured.end());
  Tensors out = dispatch(kCond, inputs, {{"branches", FnRef(b)}});
  return {out.begin(), out.end()};
}

bool any_tracked_by_tape() { return internal::g_active_tapes > 0; }

}  // namespace

std::vector<Tensor> cond(const Tensor& pred, const std::function<std::vector<Tensor>()>& then_fn,
                         const std::function<std::vector<Tensor>()>& else_fn) {
  if (!pred.defined()) throw ValueError("[cond] pred is an undefined Tensor handle");
  if (!pred.is_symbolic()) return truth(pred, "cond") ? then_fn() : else_fn();
  return traced_cond(pred, then_fn, else_fn);
}

Tensor cond(const Tensor& pred, const std::function<Tensor()>& then_fn, const std::function<Tensor()>& else_fn) {
  return cond(pred, std::function<std::vector<Tensor>()>([&] { return std::vector<Tensor>{then_fn()}; }),
              std::function<std::vector<Tensor>()>([&] { return std::vector<Tensor>{else_fn()}; }))[0];
}

std::vector<Tensor> while_loop(const std::function<Tensor(const std::vector<Tensor>&)>& cond_fn,
                               const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& body_fn,
                               const std::vector<Tensor>& loop_vars, WhileOptions options) {
  for (const Tensor& v : loop_vars)
    if (!v.defined()) throw ValueError("[while_loop] a loop variable is an undefined Tensor handle");
  auto check_body = [&](const std::vector<Tensor>& before, const std::vector<Tensor>& after) {
    if (after.size() != before.size()) {
      throw ValueError("[while_loop] body returned " + std::to_string(after.size()) + " tensors for " +
                       std::to_string(before.size()) + " loop variables");
    }
    for (std::size_t i = 0; i < after.size(); ++i) {
      if (after[i].dtype() != before[i].dtype()) {
        throw DTypeError("[while_loop] loop variable " + std::to_string(i) + " changed dtype from " +
                         dtype_name(before[i].dtype()) + " to " + dtype_name(after[i].dtype()) + " in the body");
      }
      // Eager and traced alike (a dim unknown while tracing is checked on every iteration when it runs).
      if (!after[i].shape().compatible_with(before[i].shape())) {
        throw ShapeError("[while_loop] loop variable " + std::to_string(i) + " changed shape from " +
                         before[i].shape().str() + " to " + after[i].shape().str() +
                         " in the body; loop variables keep their shape (grow a result outside the loop, "
                         "or write into a fixed-size tensor)");
      }
    }
  };
  if (!graph::current_graph_tracer()) {
    std::vector<Tensor> vars = loop_vars;
    for (std::int64_t it = 0; options.maximum_iterations <= 0 || it < options.maximum_iterations; ++it) {
      if (!truth(cond_fn(vars), "while_loop")) break;
      std::vector<Tensor> next = body_fn(vars);
      check_body(vars, next);
      vars = std::move(next);
    }
    return vars;
  }
  auto w = std::make_shared<WhileBody>();
  w->n_vars = loop_vars.size();
  w->max_iterations = options.maximum_iterations;
  for (const Tensor& v : loop_vars) w->var_specs.push_back(v.spec());
  const std::string base = graph::current_graph_tracer()->graph().name();
  w->body_g = graph::trace_subgraph(base + "/while_body", w->var_specs, [&](const std::vector<Tensor>& v) {
    std::vector<Tensor> next = body_fn(v);
    check_body(v, next);
    return next;
  });
  w->cond_g = graph::trace_subgraph(base + "/while_cond", w->var_specs, [&](const std::vector<Tensor>& v) {
    return std::vector<Tensor>{scalar_pred(cond_fn(v), "while_loop")};
  });
  graph::compile(w->cond_g);
  graph::compile(w->body_g);
  w->keep_history = any_tracked_by_tape();
  std::vector<Tensor> inputs = loop_vars;
  inputs.insert(inputs.end(), w->cond_g.captured.begin(), w->cond_g.captured.end());
  inputs.insert(inputs.end(), w->body_g.captured.begin(), w->body_g.captured.end());
  Tensors out = dispatch(kWhile, inputs, {{"body", FnRef(w)}});
  return std::vector<Tensor>(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(w->n_vars));
}

const OpDef& graph::cond_op() { return kCond; }
const OpDef& graph::while_op() { return kWhile; }

std::optional<graph::ControlFlowParts> graph::control_flow_parts(const Node& n) {
  if (n.op == &kCond) {
    const auto& b = static_cast<const CondBranches&>(*n.attrs.fn("branches"));
    return ControlFlowParts{.first = &b.then_g, .second = &b.else_g};
  }
  if (n.op == &kWhile) {
    const auto& w = static_cast<const WhileBody&>(*n.attrs.fn("body"));
    return ControlFlowParts{
        .first = &w.cond_g, .second = &w.body_g, .n_vars = w.n_vars, .max_iterations = w.max_iterations};
  }
  return std::nullopt;
}

static void register_control_flow_ops(std::vector<const OpDef*>& r) {
  r.push_back(&kCond);
  r.push_back(&kWhile);
  r.push_back(&graph::host_function_op());
}
const OpRegistration kRegisterControlFlowOps{register_control_flow_ops};

}  // namespace duet
