#include "exec/plan.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace duet::exec {
namespace {

// DUET_PROFILE=1: every executed graph step is timed; at exit a table of the costliest op/shape pairs goes
// to stderr (the place to look before optimizing a model).
class StepProfile {
 public:
  static bool enabled() {
    static const bool on = [] {
      const char* v = std::getenv("DUET_PROFILE");
      return v && *v && std::string(v) != "0";
    }();
    return on;
  }
  static StepProfile& get() {
    static StepProfile p;
    return p;
  }
  void add(const graph::Node& n, double seconds) {
    std::string key =
        std::string(n.op->name) + " -> " + (n.outputs.empty() ? std::string("()") : n.outputs[0].shape.str());
    std::lock_guard<std::mutex> lock(mu_);
    auto& e = items_[key];
    e.seconds += seconds;
    ++e.calls;
  }
  ~StepProfile() {
    std::vector<std::pair<std::string, Entry>> v(items_.begin(), items_.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
    double total = 0;
    for (const auto& [k, e] : v) total += e.seconds;
    std::fprintf(stderr, "DUET_PROFILE: graph steps, %.1f ms in total\n%10s %8s %10s %6s  %s\n", total * 1e3,
                 "total ms", "calls", "ms/call", "%", "op -> output shape");
    for (std::size_t i = 0; i < v.size() && i < 40; ++i) {
      const auto& [k, e] = v[i];
      std::fprintf(stderr, "%10.1f %8ld %10.3f %6.1f  %s\n", e.seconds * 1e3, e.calls,
                   e.seconds * 1e3 / static_cast<double>(e.calls), 100 * e.seconds / total, k.c_str());
    }
  }

 private:
  struct Entry {
    double seconds = 0;
    long calls = 0;
  };
  std::mutex mu_;
  std::map<std::string, Entry> items_;
};

thread_local StepObserver* t_step_observer = nullptr;
thread_local std::unordered_map<const void*, std::vector<std::shared_ptr<void>>>* t_run_scope = nullptr;

}  // namespace

std::vector<std::shared_ptr<void>>* run_scoped(const void* key) { return t_run_scope ? &(*t_run_scope)[key] : nullptr; }

ObserveSteps::ObserveSteps(StepObserver* o) : saved_(t_step_observer) { t_step_observer = o; }
ObserveSteps::~ObserveSteps() { t_step_observer = saved_; }

std::shared_ptr<Plan> Plan::build(const std::shared_ptr<const graph::Graph>& g) {
  auto p = std::make_shared<Plan>();
  p->graph_ = g;
  std::unordered_map<const graph::Node*, int> first_slot;
  int slots = 0;
  for (const auto& n : g->nodes()) {
    first_slot[n.get()] = slots;
    slots += static_cast<int>(n->outputs.size());
  }
  p->num_slots_ = slots;
  auto slot = [&](const graph::Value& v) { return first_slot.at(v.node) + v.index; };
  std::vector<int> last_use(static_cast<std::size_t>(slots), -1);
  for (const auto& n : g->nodes()) {
    if (n->op == &graph::placeholder_op()) {
      if (p->arg_slots_.size() <= static_cast<std::size_t>(n->arg_index))
        p->arg_slots_.resize(static_cast<std::size_t>(n->arg_index) + 1, -1);
      p->arg_slots_[static_cast<std::size_t>(n->arg_index)] = first_slot[n.get()];
    } else if (n->op == &graph::const_op()) {
      p->consts_.emplace_back(first_slot[n.get()], n->constant);
    } else {
      bool known = true;
      for (const auto& v : n->inputs)
        known = known && v.node->outputs[static_cast<std::size_t>(v.index)].shape.is_fully_known();
      for (const auto& o : n->outputs) known = known && o.shape.is_fully_known();
      Step s{n->op, &n->attrs, n.get(), {}, {}, {}, known};
      for (const auto& v : n->inputs) {
        s.in.push_back(slot(v));
        last_use[static_cast<std::size_t>(slot(v))] = static_cast<int>(p->steps_.size());
      }
      for (std::size_t i = 0; i < n->outputs.size(); ++i) s.out.push_back(first_slot[n.get()] + static_cast<int>(i));
      p->steps_.push_back(std::move(s));
    }
  }
  for (const auto& v : g->outputs()) {
    p->out_slots_.push_back(slot(v));
    last_use[static_cast<std::size_t>(slot(v))] = static_cast<int>(p->steps_.size());  // never released
  }
  for (std::size_t sl = 0; sl < last_use.size(); ++sl) {
    int u = last_use[sl];
    if (u >= 0 && u < static_cast<int>(p->steps_.size()))
      p->steps_[static_cast<std::size_t>(u)].release.push_back(static_cast<int>(sl));
  }
  return p;
}

std::vector<Tensor> Plan::run(std::span<const Tensor> args) const {
  if (args.size() != arg_slots_.size()) {
    throw ValueError("[" + graph_->name() + "] expects " + std::to_string(arg_slots_.size()) +
                     " tensor arguments, got " + std::to_string(args.size()));
  }
  // Slot storage is reused across runs on this thread (plans nest: cond branches run inside a plan, so
  // each nesting depth gets its own vector).
  thread_local std::deque<std::vector<Tensor>> pool;  // deque: growing keeps outer levels' references valid
  thread_local std::size_t depth = 0;
  if (pool.size() <= depth) pool.resize(depth + 1);
  std::vector<Tensor>& slots = pool[depth];
  slots.resize(static_cast<std::size_t>(num_slots_));
  struct DepthGuard {
    std::vector<Tensor>& s;
    std::size_t& d;
    ~DepthGuard() {
      for (auto& t : s) t = Tensor();  // never keep values alive between runs
      --d;
    }
  } guard{slots, ++depth};
  // The outermost run owns the run-scoped storage; whatever a run kept is dropped when it ends.
  std::optional<std::unordered_map<const void*, std::vector<std::shared_ptr<void>>>> scope;
  struct ScopeGuard {
    bool active;
    ~ScopeGuard() {
      if (active) t_run_scope = nullptr;
    }
  } scope_guard{t_run_scope == nullptr};
  if (scope_guard.active) t_run_scope = &scope.emplace();
  for (std::size_t i = 0; i < args.size(); ++i) slots[static_cast<std::size_t>(arg_slots_[i])] = args[i];
  for (const auto& [s, t] : consts_) slots[static_cast<std::size_t>(s)] = t;
  Tensors ins;
  for (const Step& st : steps_) {
    ins.clear();
    for (int s : st.in) ins.push_back(slots[static_cast<std::size_t>(s)]);
    Tensors outs;
    const bool profiling = StepProfile::enabled();
    const auto t0 = profiling ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    try {
      if (st.static_shapes) {
        // The plan was chosen for exactly these shapes and inference validated them while tracing.
        outs = run_kernel_with_specs(*st.op, ins, *st.attrs, st.node->outputs);
      } else {
        outs = run_kernel(*st.op, ins, *st.attrs);
      }
    } catch (const Error& e) {
      e.rethrow_with_context("[" + graph_->name() + ", node " + st.node->name + "] ");
    }
    if (profiling)
      StepProfile::get().add(*st.node, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (t_step_observer) t_step_observer->on_step(*st.node, std::span<const Tensor>(outs.data(), outs.size()));
    if (internal::numerics_checked()) {
      internal::check_outputs_finite(*st.op, ins, std::span<const Tensor>(outs.data(), outs.size()),
                                     "node " + st.node->name + " of compiled function '" + graph_->name() + "'" +
                                         (st.node->scope.empty() ? "" : ", in layer '" + st.node->scope + "'"));
    }
    for (std::size_t i = 0; i < st.out.size(); ++i) slots[static_cast<std::size_t>(st.out[i])] = std::move(outs[i]);
    for (int s : st.release) slots[static_cast<std::size_t>(s)] = Tensor();
  }
  std::vector<Tensor> result;
  result.reserve(out_slots_.size());
  for (int s : out_slots_) result.push_back(slots[static_cast<std::size_t>(s)]);
  return result;
}

}  // namespace duet::exec
