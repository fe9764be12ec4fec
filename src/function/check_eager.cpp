// The differential check (FunctionOptions::check_eager, DUET_CHECK_EAGER=1). Every variable and the random
// generator are snapshotted (holding a variable's value makes the next write copy it, so snapshots are
// handles, not copies); the compiled call runs, then the state is put back and the callable runs eagerly;
// outputs and every variable are compared. On a difference, the graph is re-run with each pass switched
// off to find the pass that produced it, and node values are compared with the eager ops' values to find
// the first node that differs.
#include "function/check_eager.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <optional>

#include "core/tensor_impl.h"
#include "duet/random.h"
#include "graph/tracer.h"
#include "ops/variable_impl.h"
#include "passes/pass.h"

namespace duet::internal {
namespace {

struct State {
  std::vector<std::pair<VarRef, Tensor>> vars;
  random::GeneratorState rng;
};

State snapshot() {
  State s;
  for (auto& v : live_variables()) s.vars.emplace_back(v, v->value);
  s.rng = random::get_state();
  return s;
}

void restore(const State& s) {
  for (const auto& [v, t] : s.vars) v->value = t;
  random::set_state(s.rng);
}

struct Run {
  std::vector<Tensor> outs;
  State after;  // the same variables as the starting snapshot, with their values after the run
};

State after_of(const State& start) {
  State s;
  for (const auto& [v, t] : start.vars) s.vars.emplace_back(v, v->value);
  s.rng = random::get_state();
  return s;
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

struct Diff {
  std::string text;  // "max abs diff 0.47 (rel 0.9) at element 5: compiled 1.2, eager 0.73"
  double max_abs = 0;
};

// NaN matches NaN, infinities match by sign; beyond that |got - want| <= atol + rtol |want|.
std::optional<Diff> compare(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (!got.defined() || !want.defined()) {
    if (got.defined() == want.defined()) return std::nullopt;
    return Diff{std::string("one side is undefined (compiled ") + (got.defined() ? "defined" : "undefined") + ")",
                INFINITY};
  }
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
    return Diff{std::string("compiled gives ") + dtype_name(got.dtype()) + " " + got.shape().str() + ", eager " +
                    dtype_name(want.dtype()) + " " + want.shape().str(),
                INFINITY};
  }
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double worst = 0, worst_abs = 0;
  std::int64_t at = -1;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double a = g[i], b = w[i];
    if (std::isnan(a) && std::isnan(b)) continue;
    if (std::isinf(a) || std::isinf(b) || std::isnan(a) || std::isnan(b)) {
      if (a == b) continue;
      worst = INFINITY;
      worst_abs = INFINITY;
      at = static_cast<std::int64_t>(i);
      break;
    }
    const double d = std::fabs(a - b), excess = d / (atol + rtol * std::fabs(b));
    if (excess > 1 && excess > worst) {
      worst = excess;
      at = static_cast<std::int64_t>(i);
    }
    worst_abs = std::max(worst_abs, d);
  }
  if (at < 0) return std::nullopt;
  const double a = g[static_cast<std::size_t>(at)], b = w[static_cast<std::size_t>(at)];
  return Diff{"max abs diff " + fmt(worst_abs) + " (rel " + fmt(std::fabs(a - b) / std::max(std::fabs(b), 1e-300)) +
                  ") at element " + std::to_string(at) + ": compiled " + fmt(a) + ", eager " + fmt(b),
              worst_abs};
}

// The first difference between two runs (outputs first, then variables), or nullopt.
std::optional<std::string> first_difference(const Run& c, const Run& e, double rtol, double atol) {
  for (std::size_t i = 0; i < c.outs.size() && i < e.outs.size(); ++i) {
    if (auto d = compare(c.outs[i], e.outs[i], rtol, atol)) {
      return "output " + std::to_string(i) + " (" + dtype_name(e.outs[i].dtype()) + " " + e.outs[i].shape().str() +
             "): " + d->text;
    }
  }
  if (c.outs.size() != e.outs.size()) {
    return "the compiled call returned " + std::to_string(c.outs.size()) + " tensors, the eager one " +
           std::to_string(e.outs.size());
  }
  for (std::size_t i = 0; i < c.after.vars.size(); ++i) {
    const auto& [v, t] = c.after.vars[i];
    if (auto d = compare(t, e.after.vars[i].second, rtol, atol))
      return "variable '" + v->name + "' after the call: " + d->text;
  }
  if (c.after.rng.counter != e.after.rng.counter) {
    return "the random generator advanced " + std::to_string(c.after.rng.counter) + " calls compiled, " +
           std::to_string(e.after.rng.counter) + " eagerly";
  }
  return std::nullopt;
}

Run run_eager(const ArgList& args, const TraceFn& trace, const State& start) {
  restore(start);
  std::vector<std::int64_t> st;
  Run r{trace(args.tensors, st), {}};
  r.after = after_of(start);
  return r;
}

Run run_plan(const exec::Plan& plan, const ArgList& args, const State& start) {
  restore(start);
  Run r{plan.run(args.tensors), {}};
  r.after = after_of(start);
  return r;
}

// Values of the top-level steps of one graph, by the name of the original node each output stands for.
struct NodeValues : exec::StepObserver {
  const graph::Graph* g = nullptr;
  std::vector<std::pair<const graph::Node*, std::vector<Tensor>>> steps;
  void on_step(const graph::Node& n, std::span<const Tensor> outs) override {
    if (n.graph == g) steps.emplace_back(&n, std::vector<Tensor>(outs.begin(), outs.end()));
  }
};

// The eager ops' results, in dispatch order.
struct EagerValues {
  std::vector<std::pair<const OpDef*, std::vector<Tensor>>> ops;
  static void observe(const OpDef& op, std::span<const Tensor> outs, void* user) {
    static_cast<EagerValues*>(user)->ops.emplace_back(&op, std::vector<Tensor>(outs.begin(), outs.end()));
  }
};

std::string describe(const graph::Node& n, std::size_t output, const std::vector<Tensor>& values) {
  std::string s = "node " + n.name + " (" + n.op->name;
  if (n.op->name == std::string("FusedElementwise") || n.attrs.has("program"))
    s += " " + attr_value_str(n.attrs.get("program"));
  s += ")";
  if (!n.origin.empty() && output < n.origin.size())
    s += ", output " + std::to_string(output) + " standing for " + n.origin[output];
  s += n.scope.empty() ? ", outside any layer" : ", in layer '" + n.scope + "'";
  std::string ins;
  for (const auto& v : n.inputs) {
    const TensorSpec& sp = v.node->outputs[static_cast<std::size_t>(v.index)];
    ins += (ins.empty() ? "" : ", ") + sp.shape.str();
  }
  if (output < values.size() && values[output].defined()) {
    s += ", inputs (" + ins + ") -> " + dtype_name(values[output].dtype()) + " " + values[output].shape().str();
  }
  return s;
}

class Checker {
 public:
  Checker(FunctionCore& core, const FunctionCore::Entry& entry, const ArgList& args, const TraceFn& trace)
      : core_(core),
        entry_(entry),
        args_(args),
        trace_(trace),
        rtol_(core.options.check_eager_rtol),
        atol_(core.options.check_eager_atol) {}

  std::vector<Tensor> run() {
    const State start = snapshot();
    Run compiled = run_plan(*entry_.plan, args_, start);
    Run eager = run_eager(args_, trace_, start);
    auto diff = first_difference(compiled, eager, rtol_, atol_);
    if (diff) report(*diff, start, eager);
    restore(compiled.after);  // leave the state the compiled call produced (the program's semantics)
    return compiled.outs;
  }

 private:
  // The same trace (a copy of its unoptimized graph: tracing again could capture different values) with
  // these passes.
  std::shared_ptr<exec::Plan> plan_with(const PassOptions& passes, std::shared_ptr<graph::Graph>* graph_out = nullptr) {
    auto g = entry_.raw->clone();
    passes::optimize(*g, passes, false);
    if (graph_out) *graph_out = g;
    return exec::Plan::build(g);
  }

  // The pass whose absence makes the compiled result match the eager one.
  std::string culprit(const State& start, const Run& eager, bool& raw_matches) {
    PassOptions none{.constant_folding = false, .cse = false, .dce = false, .fusion = false};
    raw_matches = !first_difference(run_plan(*plan_with(none), args_, start), eager, rtol_, atol_);
    if (!raw_matches)
      return "tracing itself: the graph differs before any pass runs (an op's traced shape or dtype rule)";
    const PassOptions& on = core_.options.passes;
    std::vector<std::pair<const char*, bool PassOptions::*>> passes = {
        {"constant_folding", &PassOptions::constant_folding},
        {"cse", &PassOptions::cse},
        {"dce", &PassOptions::dce},
        {"fusion", &PassOptions::fusion}};
    for (auto& [name, flag] : passes) {
      if (!(on.*flag)) continue;
      PassOptions without = on;
      without.*flag = false;
      if (!first_difference(run_plan(*plan_with(without), args_, start), eager, rtol_, atol_)) {
        return std::string("the graph pass '") + name +
               "' (with it switched off the results match: FunctionOptions::passes." + name +
               " = false works around it)";
      }
    }
    return "a combination of graph passes (no single pass switched off makes the results match)";
  }

  // The first node of the unoptimized graph whose value differs from the eager op's (aligned in program order).
  std::string first_raw_node(const State& start) {
    PassOptions none{.constant_folding = false, .cse = false, .dce = false, .fusion = false};
    std::shared_ptr<graph::Graph> g;
    auto plan = plan_with(none, &g);
    NodeValues nv;
    nv.g = g.get();
    restore(start);
    {
      exec::ObserveSteps obs(&nv);
      plan->run(args_.tensors);
    }
    EagerValues ev;
    restore(start);
    set_result_observer(&EagerValues::observe, &ev);
    try {
      std::vector<std::int64_t> st;
      trace_(args_.tensors, st);
    } catch (...) {
      set_result_observer(nullptr, nullptr);
      throw;
    }
    set_result_observer(nullptr, nullptr);
    for (std::size_t i = 0; i < nv.steps.size() && i < ev.ops.size(); ++i) {
      const auto& [node, vals] = nv.steps[i];
      if (node->op != ev.ops[i].first) {
        return "no node before " + node->name +
               " differs; there the graph's order leaves the eager run's (control flow or a host step)";
      }
      for (std::size_t k = 0; k < vals.size() && k < ev.ops[i].second.size(); ++k)
        if (auto d = compare(vals[k], ev.ops[i].second[k], rtol_, atol_))
          return describe(*node, k, vals) + ": " + d->text;
    }
    return "no single node differs from its eager op (the difference builds up)";
  }

  // The first node of the optimized graph whose value differs from the unoptimized graph's value of the
  // node it stands for.
  std::string first_optimized_node(const State& start) {
    PassOptions none{.constant_folding = false, .cse = false, .dce = false, .fusion = false};
    std::shared_ptr<graph::Graph> raw;
    auto raw_plan = plan_with(none, &raw);
    NodeValues rv, ov;
    rv.g = raw.get();
    ov.g = &entry_.plan->graph();
    restore(start);
    {
      exec::ObserveSteps obs(&rv);
      raw_plan->run(args_.tensors);
    }
    restore(start);
    {
      exec::ObserveSteps obs(&ov);
      entry_.plan->run(args_.tensors);
    }
    std::map<std::string, const std::vector<Tensor>*> by_name;
    for (const auto& [n, vals] : rv.steps) by_name[n->name] = &vals;
    for (const auto& [n, vals] : ov.steps) {
      for (std::size_t k = 0; k < vals.size(); ++k) {
        const std::string& name = k < n->origin.size() ? n->origin[k] : n->name;
        auto it = by_name.find(name);
        if (it == by_name.end() || k >= it->second->size()) continue;
        const std::size_t raw_k = n->origin.empty() ? k : 0;
        if (raw_k >= it->second->size()) continue;
        if (auto d = compare(vals[k], (*it->second)[raw_k], rtol_, atol_))
          return describe(*n, k, vals) + ": " + d->text;
      }
    }
    return "no single node differs from the unoptimized graph's (the difference builds up)";
  }

  [[noreturn]] void throw_report(const std::string& m) { throw EagerMismatchError(m); }

  void report(const std::string& diff, const State& start, const Run& eager) {
    std::string msg =
        "[" + core_.options.name + "] the compiled call differs from the same call run eagerly: " + diff + ".";
    try {
      bool raw_matches = false;
      std::string who = culprit(start, eager, raw_matches);
      std::string node = raw_matches ? first_optimized_node(start) : first_raw_node(start);
      msg += " First differing " + node + ". Produced by " + who + ".";
    } catch (const std::exception& e) {
      msg += std::string(" (The diagnosis stopped: ") + e.what() + ")";
    }
    msg += " Compare with config::run_functions_eagerly(true); please report it with this message.";
    if (core_.options.check_eager_warn_only) {
      log(config::LogLevel::Warning, msg);
      return;
    }
    restore(eager.after);
    throw_report(msg);
  }

  FunctionCore& core_;
  const FunctionCore::Entry& entry_;
  const ArgList& args_;
  const TraceFn& trace_;
  double rtol_, atol_;
};

}  // namespace

std::vector<Tensor> check_eager_call(FunctionCore& core, const FunctionCore::Entry& entry, const ArgList& args,
                                     const TraceFn& trace) {
  return Checker(core, entry, args, trace).run();
}

}  // namespace duet::internal
