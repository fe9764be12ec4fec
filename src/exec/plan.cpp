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

#include "core/tensor_impl.h"

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
  void note_arena(const std::string& plan, std::size_t bytes, std::size_t values) {
    std::lock_guard<std::mutex> lock(mu_);
    arenas_[plan] = {bytes, values};
  }
  ~StepProfile() {
    for (const auto& [name, a] : arenas_)
      std::fprintf(stderr, "DUET_PROFILE: '%s': static memory plan, %zu values in a %.2f MB arena per instance\n",
                   name.c_str(), a.second, static_cast<double>(a.first) / (1 << 20));
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
  std::map<std::string, std::pair<std::size_t, std::size_t>> arenas_;
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
  p->plan_memory();
  return p;
}

namespace {

std::int64_t spec_bytes(const TensorSpec& s) {
  return s.shape.num_elements() * static_cast<std::int64_t>(dtype_size(s.dtype));
}

// First-fit placement of byte ranges in a growing arena; freed ranges coalesce with their neighbours.
class ArenaLayout {
 public:
  std::int64_t alloc(std::int64_t bytes) {
    bytes = (std::max<std::int64_t>(bytes, 1) + 63) / 64 * 64;
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second < bytes) continue;
      const std::int64_t off = it->first, rest = it->second - bytes;
      free_.erase(it);
      if (rest) free_[off + bytes] = rest;
      return off;
    }
    if (!free_.empty() && free_.rbegin()->first + free_.rbegin()->second == end_) {  // grow the last hole
      const std::int64_t off = free_.rbegin()->first;
      free_.erase(off);
      end_ = off + bytes;
      return off;
    }
    const std::int64_t off = end_;
    end_ += bytes;
    return off;
  }
  void release(std::int64_t off, std::int64_t bytes) {
    bytes = (std::max<std::int64_t>(bytes, 1) + 63) / 64 * 64;
    auto next = free_.lower_bound(off);
    if (next != free_.end() && off + bytes == next->first) {
      bytes += next->second;
      next = free_.erase(next);
    }
    if (next != free_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second == off) {
        prev->second += bytes;
        return;
      }
    }
    free_[off] = bytes;
  }
  std::int64_t size() const { return end_; }

 private:
  std::map<std::int64_t, std::int64_t> free_;  // offset -> bytes
  std::int64_t end_ = 0;
};

}  // namespace

struct Plan::Instance {
  Tensor arena;
  std::vector<Tensor> planned;        // per slot: its tensor in the arena (empty for other slots)
  std::vector<TensorImpl*> impls;     // the same, to check a kernel kept the output it was given
  std::vector<Tensor> ins;            // every step's inputs, back to back (Step::in_off)
};

Plan::~Plan() = default;

void Plan::plan_memory() {
  const auto n = static_cast<std::size_t>(num_slots_);
  arena_offset_.assign(n, -1);
  std::vector<char> ok(n, 0);
  std::vector<SmallVec<int, 2>> roots(n);  // the planned-candidate values whose memory a slot may alias
  std::vector<int> producer(n, -1), last(n, -1);
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    const Step& st = steps_[i];
    const bool writes_given_outputs =
        st.static_shapes && !st.op->has(kView) && !st.op->has(kStateful) && !st.op->has(kRunsGraphs);
    for (std::size_t k = 0; k < st.out.size(); ++k) {
      const auto o = static_cast<std::size_t>(st.out[k]);
      producer[o] = static_cast<int>(i);
      if (st.op->has(kView)) {  // may alias any input
        for (int v : st.in)
          for (int r : roots[static_cast<std::size_t>(v)])
            if (std::find(roots[o].begin(), roots[o].end(), r) == roots[o].end()) roots[o].push_back(r);
      } else if (writes_given_outputs) {
        roots[o].push_back(static_cast<int>(o));
        ok[o] = 1;
      }
    }
    // Readers extend the life of what they read (through views); a reader that may keep it disqualifies it.
    const bool keeps = st.op->has(kStateful) || st.op->has(kRunsGraphs);
    for (int v : st.in)
      for (int r : roots[static_cast<std::size_t>(v)]) {
        last[static_cast<std::size_t>(r)] = static_cast<int>(i);
        if (keeps) ok[static_cast<std::size_t>(r)] = 0;
      }
  }
  for (int s : out_slots_)
    for (int r : roots[static_cast<std::size_t>(s)]) ok[static_cast<std::size_t>(r)] = 0;
  // A step is planned only as a whole (its kernel gets one span of outputs).
  for (Step& st : steps_) {
    st.planned = !st.out.empty();
    for (int o : st.out) st.planned = st.planned && ok[static_cast<std::size_t>(o)];
  }
  std::vector<std::vector<int>> frees_at(steps_.size());
  for (const Step& st : steps_)
    if (st.planned)
      for (int o : st.out) {
        const auto so = static_cast<std::size_t>(o);
        frees_at[static_cast<std::size_t>(std::max(last[so], producer[so]))].push_back(o);
      }
  ArenaLayout layout;
  std::size_t next_in = 0;
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    Step& st = steps_[i];
    st.in_off = next_in;
    next_in += st.in.size();
    if (st.planned) {
      for (std::size_t k = 0; k < st.out.size(); ++k) {
        arena_offset_[static_cast<std::size_t>(st.out[k])] = layout.alloc(spec_bytes(st.node->outputs[k]));
        ++planned_values_;
      }
    }
    for (int o : frees_at[i]) {
      const Step& p = steps_[static_cast<std::size_t>(producer[static_cast<std::size_t>(o)])];
      const auto k = static_cast<std::size_t>(o - p.out[0]);
      layout.release(arena_offset_[static_cast<std::size_t>(o)], spec_bytes(p.node->outputs[k]));
    }
  }
  for (Step& st : steps_)
    for (std::size_t j = 0; j < st.in.size(); ++j)
      if (arena_offset_[static_cast<std::size_t>(st.in[j])] < 0) st.fed.push_back(static_cast<int>(j));
  num_ins_ = next_in;
  arena_bytes_ = static_cast<std::size_t>(layout.size());
}

std::unique_ptr<Plan::Instance> Plan::make_instance() const {
  auto inst = std::make_unique<Instance>();
  inst->planned.resize(static_cast<std::size_t>(num_slots_));
  inst->impls.assign(static_cast<std::size_t>(num_slots_), nullptr);
  inst->ins.resize(num_ins_);
  if (arena_bytes_) {
    try {
      inst->arena = make_concrete(DType::Float32, Shape{static_cast<std::int64_t>(arena_bytes_ / 4)});
    } catch (const ResourceExhaustedError& e) {
      e.rethrow_with_context("[" + graph_->name() + "] the static memory plan's arena (" +
                             std::to_string(arena_bytes_) + " bytes): ");
    }
  }
  for (const Step& st : steps_) {
    if (st.planned) {
      for (std::size_t k = 0; k < st.out.size(); ++k) {
        const auto o = static_cast<std::size_t>(st.out[k]);
        const TensorSpec& spec = st.node->outputs[k];
        Tensor t = make_flat_view(inst->arena, arena_offset_[o] / 4, 0);
        TensorImpl* impl = t.impl();
        impl->dtype = spec.dtype;
        impl->shape = spec.shape;
        impl->numel = spec.shape.num_elements();
        inst->impls[o] = impl;
        inst->planned[o] = std::move(t);
      }
    }
  }
  for (const Step& st : steps_)
    for (std::size_t j = 0; j < st.in.size(); ++j)
      if (arena_offset_[static_cast<std::size_t>(st.in[j])] >= 0)
        inst->ins[st.in_off + j] = inst->planned[static_cast<std::size_t>(st.in[j])];
  return inst;
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
  // An instance of the memory plan, unless an observer watches the steps (it may keep what it is shown,
  // which planned memory would overwrite).
  std::unique_ptr<Instance> inst;
  // The first run of a plan goes without (a function called once would pay for an arena it never reuses).
  if (planned_values_ && !t_step_observer && ran_.exchange(true, std::memory_order_relaxed)) {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!idle_.empty()) {
        inst = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!inst) inst = make_instance();
  }
  struct InstanceGuard {
    const Plan& plan;
    std::unique_ptr<Instance>& inst;
    ~InstanceGuard() {
      if (!inst) return;
      for (const Step& st : plan.steps_)  // drop what this run fed in
        for (int j : st.fed) TensorAccess::forget(inst->ins[st.in_off + static_cast<std::size_t>(j)]);
      std::lock_guard<std::mutex> lock(plan.pool_mu_);
      plan.idle_.push_back(std::move(inst));
    }
  } inst_guard{*this, inst};
  Tensors ins, outs;
  const bool profiling = StepProfile::enabled();
  if (profiling && inst) StepProfile::get().note_arena(graph_->name(), arena_bytes_, planned_values_);
  for (const Step& st : steps_) {
    std::span<const Tensor> in;
    std::span<Tensor> out;
    if (inst) {
      Tensor* base = inst->ins.data() + st.in_off;
      // Lent, not copied: the slots keep these alive until after the step (no reference counting).
      for (int j : st.fed)
        base[j] = TensorAccess::borrow(slots[static_cast<std::size_t>(st.in[static_cast<std::size_t>(j)])]);
      in = std::span<const Tensor>(base, st.in.size());
    } else {
      ins.clear();
      for (int s : st.in) ins.push_back(slots[static_cast<std::size_t>(s)]);
      in = std::span<const Tensor>(ins.data(), ins.size());
    }
    const auto t0 = profiling ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    try {
      if (inst && st.planned) {
        out = std::span<Tensor>(&inst->planned[static_cast<std::size_t>(st.out[0])], st.out.size());
        run_kernel_into(*st.op, in, *st.attrs, st.node->outputs, out);
        for (std::size_t k = 0; k < out.size(); ++k)
          if (out[k].impl() != inst->impls[static_cast<std::size_t>(st.out[k])])
            throw Error("[" + std::string(st.op->public_name) +
                        "] the kernel replaced its planned output (an op without the kView trait must write into "
                        "the outputs it is given; please report this)");
      } else {
        // Static steps: the plan was chosen for exactly these shapes and inference validated them.
        outs = st.static_shapes ? run_kernel_with_specs(*st.op, in, *st.attrs, st.node->outputs)
                                : run_kernel(*st.op, in, *st.attrs);
        out = std::span<Tensor>(outs.data(), outs.size());
      }
    } catch (const Error& e) {
      e.rethrow_with_context("[" + graph_->name() + ", node " + st.node->name + "] ");
    }
    if (profiling)
      StepProfile::get().add(*st.node, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (t_step_observer) t_step_observer->on_step(*st.node, out);
    if (internal::numerics_checked()) {
      internal::check_outputs_finite(*st.op, in, out,
                                     "node " + st.node->name + " of compiled function '" + graph_->name() + "'" +
                                         (st.node->scope.empty() ? "" : ", in layer '" + st.node->scope + "'"));
    }
    if (inst)
      for (int j : st.fed) TensorAccess::forget(inst->ins[st.in_off + static_cast<std::size_t>(j)]);
    if (!(inst && st.planned))
      for (std::size_t i = 0; i < st.out.size(); ++i) slots[static_cast<std::size_t>(st.out[i])] = std::move(outs[i]);
    for (int s : st.release) slots[static_cast<std::size_t>(s)] = Tensor();
  }
  std::vector<Tensor> result;
  result.reserve(out_slots_.size());
  for (int s : out_slots_) result.push_back(slots[static_cast<std::size_t>(s)]);
  return result;
}

}  // namespace duet::exec
