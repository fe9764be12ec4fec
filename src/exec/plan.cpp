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
#include "exec/lanes.h"
#include "kernels/parallel.h"
#include "ops/fused.h"

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
  // One run of a two-lane segment (exec/lanes.h).
  void add_segment(const std::string& plan, int begin, int end, std::size_t side_steps, const LaneTimes& t) {
    std::lock_guard<std::mutex> lock(mu_);
    Segment& s = segments_[{plan, begin}];
    s.end = end;
    s.side_steps = side_steps;
    s.wall += t.wall;
    s.first += t.first;
    s.second += t.second;
    ++s.runs;
  }
  ~StepProfile() {
    for (const auto& [name, a] : arenas_)
      std::fprintf(stderr, "DUET_PROFILE: '%s': static memory plan, %zu values in a %.2f MB arena per instance\n",
                   name.c_str(), a.second, static_cast<double>(a.first) / (1 << 20));
    for (const auto& [key, s] : segments_) {
      const double r = 1e3 / static_cast<double>(s.runs);
      std::fprintf(stderr,
                   "DUET_PROFILE: '%s' steps [%d, %d) on two lanes, %zu of them on the second: %.3f ms per run, "
                   "first lane busy %.3f ms, second %.3f ms\n",
                   key.first.c_str(), key.second, s.end, s.side_steps, s.wall * r, s.first * r, s.second * r);
    }
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
  struct Segment {
    int end = 0;
    std::size_t side_steps = 0;
    double wall = 0, first = 0, second = 0;
    long runs = 0;
  };
  std::map<std::pair<std::string, int>, Segment> segments_;
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
      Step s{n->op, &n->attrs, n.get(), {}, {}, {}};
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
  std::vector<TensorSpec> specs(static_cast<std::size_t>(slots));
  for (const auto& n : g->nodes())
    for (std::size_t i = 0; i < n->outputs.size(); ++i)
      specs[static_cast<std::size_t>(first_slot[n.get()]) + i] = n->outputs[i];
  p->static_args_ = true;
  for (int a : p->arg_slots_)
    p->static_args_ = p->static_args_ && (a < 0 || specs[static_cast<std::size_t>(a)].shape.is_fully_known());
  p->base_ = p->make_layout(std::move(specs));
  return p;
}

namespace {

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
  std::vector<Tensor> planned;     // per slot: its tensor in the arena (empty for other slots)
  std::vector<TensorImpl*> impls;  // the same, to check a kernel kept the output it was given
  std::vector<Tensor> ins;         // every step's inputs, back to back (Layout::in_off)
};

Plan::~Plan() = default;

std::shared_ptr<const Plan::Layout> Plan::make_layout(std::vector<TensorSpec> specs) const {
  auto l = std::make_shared<Layout>();
  l->specs = std::move(specs);
  const auto n = static_cast<std::size_t>(num_slots_);
  const std::size_t ns = steps_.size();
  l->offset.assign(n, -1);
  l->static_step.assign(ns, 0);
  l->planned.assign(ns, 0);
  l->in_off.assign(ns, 0);
  l->fed.resize(ns);
  auto known = [&](int slot) { return l->specs[static_cast<std::size_t>(slot)].shape.is_fully_known(); };
  std::vector<char> ok(n, 0);
  std::vector<SmallVec<int, 2>> roots(n);  // the planned-candidate values whose memory a slot may alias
  std::vector<int> producer(n, -1), last(n, -1);
  for (std::size_t i = 0; i < ns; ++i) {
    const Step& st = steps_[i];
    bool all_known = true;
    for (int v : st.in) all_known = all_known && known(v);
    for (int o : st.out) all_known = all_known && known(o);
    l->static_step[i] = all_known;
    const bool writes_given_outputs =
        all_known && !st.op->has(kView) && !st.op->has(kStateful) && !st.op->has(kRunsGraphs);
    for (int out : st.out) {
      const auto o = static_cast<std::size_t>(out);
      producer[o] = static_cast<int>(i);
      if (st.op->has(kView)) {  // may alias any input
        for (int v : st.in)
          for (int r : roots[static_cast<std::size_t>(v)])
            if (std::find(roots[o].begin(), roots[o].end(), r) == roots[o].end()) roots[o].push_back(r);
      } else if (writes_given_outputs) {
        roots[o].push_back(out);
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
  for (std::size_t i = 0; i < ns; ++i) {
    bool planned = !steps_[i].out.empty();
    for (int o : steps_[i].out) planned = planned && ok[static_cast<std::size_t>(o)];
    l->planned[i] = planned;
  }
  auto bytes = [&](int slot) {
    const TensorSpec& t = l->specs[static_cast<std::size_t>(slot)];
    return t.shape.num_elements() * static_cast<std::int64_t>(dtype_size(t.dtype));
  };
  // The operands a MatMulSum would pack (its terms stacked along the contraction dim: A's when transposed,
  // B's when not) are laid out back to back in term order, so the kernel reads them in place (a recurrent
  // net's weight gradients: 50 products of 64 KB operands, 3.2 MB copied per weight per step otherwise).
  // A group lives from its first member's step to its last member's last reader.
  std::vector<int> group_of(n, -1);
  std::vector<std::vector<int>> groups;
  for (const Step& st : steps_) {
    if (st.op != &matmul_sum_op()) continue;
    const auto terms = static_cast<std::size_t>(st.attrs->i("terms"));
    auto try_group = [&](std::size_t first) {
      std::vector<int> members;
      for (std::size_t k = 0; k < terms; ++k) {
        const int v = st.in[first + k];
        const auto sv = static_cast<std::size_t>(v);
        const bool direct = ok[sv] && roots[sv].size() == 1 && roots[sv][0] == v && producer[sv] >= 0 &&
                            l->planned[static_cast<std::size_t>(producer[sv])];
        if (!direct || bytes(v) <= 0 || bytes(v) % 64 != 0) return;
        if (std::find(members.begin(), members.end(), v) != members.end()) return;
        members.push_back(v);
      }
      for (int v : members)
        if (group_of[static_cast<std::size_t>(v)] >= 0) return;  // already in a group (the same list or another)
      for (int v : members) group_of[static_cast<std::size_t>(v)] = static_cast<int>(groups.size());
      l->back_to_back_values += members.size();
      groups.push_back(std::move(members));
    };
    if (st.attrs->b("transpose_a")) try_group(0);
    if (!st.attrs->b("transpose_b")) try_group(terms);
  }
  std::vector<int> placed_at;  // per step: where its planned outputs are given their bytes
  schedule_lanes(*l, group_of, roots, producer, last, placed_at);
  std::vector<std::vector<int>> place(ns);
  for (std::size_t i = 0; i < ns; ++i) place[static_cast<std::size_t>(placed_at[i])].push_back(static_cast<int>(i));
  std::vector<std::vector<int>> frees_at(ns), group_frees_at(ns);
  for (std::size_t i = 0; i < ns; ++i)
    if (l->planned[i])
      for (int o : steps_[i].out)
        if (group_of[static_cast<std::size_t>(o)] < 0)
          frees_at[static_cast<std::size_t>(std::max(last[static_cast<std::size_t>(o)], static_cast<int>(i)))]
              .push_back(o);
  std::vector<std::int64_t> group_bytes(groups.size(), 0);
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    int end = -1;
    for (int v : groups[gi]) {
      group_bytes[gi] += bytes(v);
      end = std::max({end, last[static_cast<std::size_t>(v)], producer[static_cast<std::size_t>(v)]});
    }
    group_frees_at[static_cast<std::size_t>(end)].push_back(static_cast<int>(gi));
  }
  ArenaLayout arena;
  std::size_t next_in = 0;
  for (std::size_t i = 0; i < ns; ++i) {
    const Step& st = steps_[i];
    l->in_off[i] = next_in;
    next_in += st.in.size();
    for (int p : place[i]) {
      if (!l->planned[static_cast<std::size_t>(p)]) continue;
      for (int o : steps_[static_cast<std::size_t>(p)].out) {
        const int gi = group_of[static_cast<std::size_t>(o)];
        if (gi < 0) {
          l->offset[static_cast<std::size_t>(o)] = arena.alloc(bytes(o));
        } else if (l->offset[static_cast<std::size_t>(o)] < 0) {  // the group's first member: place them all
          std::int64_t at = arena.alloc(group_bytes[static_cast<std::size_t>(gi)]);
          for (int v : groups[static_cast<std::size_t>(gi)]) {
            l->offset[static_cast<std::size_t>(v)] = at;
            at += bytes(v);
          }
        }
        ++l->planned_values;
      }
    }
    for (int o : frees_at[i]) arena.release(l->offset[static_cast<std::size_t>(o)], bytes(o));
    for (int gi : group_frees_at[i])
      arena.release(l->offset[static_cast<std::size_t>(groups[static_cast<std::size_t>(gi)][0])],
                    group_bytes[static_cast<std::size_t>(gi)]);
  }
  for (std::size_t i = 0; i < ns; ++i)
    for (std::size_t j = 0; j < steps_[i].in.size(); ++j)
      if (l->offset[static_cast<std::size_t>(steps_[i].in[j])] < 0) l->fed[i].push_back(static_cast<int>(j));
  l->num_ins = next_in;
  l->arena_bytes = static_cast<std::size_t>(arena.size());
  return l;
}

namespace {

// Argument dtypes and shapes, readably: "float32 (64, 784); int32 (64)".
std::string shapes_str(std::span<const Tensor> args) {
  std::string k;
  for (const Tensor& t : args) {
    if (!k.empty()) k += "; ";
    k += std::string(dtype_name(t.dtype())) + " " + t.shape().str();
  }
  return k;
}

// The same as numbers (dtype, rank, dims per argument), into a reused buffer: no allocation per run.
const std::vector<std::int64_t>& shapes_key(std::span<const Tensor> args) {
  thread_local std::vector<std::int64_t> key;
  key.clear();
  for (const Tensor& t : args) {
    const TensorImpl* impl = t.impl();
    key.push_back(static_cast<std::int64_t>(impl->dtype));
    key.push_back(impl->shape.rank());
    for (std::int64_t d : impl->shape) key.push_back(d);
  }
  return key;
}

}  // namespace

// The graph's specs with the arguments' shapes filled in and carried forward by each op's inference (on
// symbolic stand-ins, so an op whose output shape depends on values keeps its unknown dims). Ops that run
// sub-graphs or user code keep the graph's specs.
std::shared_ptr<const Plan::Layout> Plan::specialize(std::span<const Tensor> args) const {
  std::vector<TensorSpec> specs = base_->specs;
  for (std::size_t i = 0; i < args.size(); ++i) specs[static_cast<std::size_t>(arg_slots_[i])] = args[i].spec();
  static const auto stand_in_node = std::make_shared<graph::Node>();
  Tensors ins;
  for (const Step& st : steps_) {
    bool ins_known = true, outs_known = true;
    for (int v : st.in) ins_known = ins_known && specs[static_cast<std::size_t>(v)].shape.is_fully_known();
    for (int o : st.out) outs_known = outs_known && specs[static_cast<std::size_t>(o)].shape.is_fully_known();
    if (!ins_known || outs_known || st.op->has(kRunsGraphs)) continue;
    ins.clear();
    for (int v : st.in) {
      const TensorSpec& t = specs[static_cast<std::size_t>(v)];
      ins.push_back(make_symbolic(t.dtype, t.shape, stand_in_node, 0));
    }
    try {
      InferContext ic{*st.op, std::span<const Tensor>(ins.data(), ins.size()), *st.attrs, {}};
      st.op->infer(ic);
      if (ic.outputs.size() != st.out.size()) continue;
      for (std::size_t k = 0; k < st.out.size(); ++k) specs[static_cast<std::size_t>(st.out[k])] = ic.outputs[k];
    } catch (const Error&) {
      // Left unknown: the step infers when it runs, and reports the problem then.
    }
  }
  return make_layout(std::move(specs));
}

std::pair<std::size_t, std::size_t> Plan::memory_plan_for(std::span<const Tensor> args) const {
  std::lock_guard<std::mutex> lock(pool_mu_);
  const Specialization* spec = nullptr;
  if (static_args_) {
    spec = &static_spec_;
  } else {
    auto it = by_shapes_.find(shapes_key(args));
    if (it != by_shapes_.end()) spec = &it->second;
  }
  if (!spec || !spec->layout) return {0, 0};
  return {spec->layout->arena_bytes, spec->layout->planned_values};
}

std::unique_ptr<Plan::Instance> Plan::make_instance(const Layout& l) const {
  auto inst = std::make_unique<Instance>();
  inst->planned.resize(static_cast<std::size_t>(num_slots_));
  inst->impls.assign(static_cast<std::size_t>(num_slots_), nullptr);
  inst->ins.resize(l.num_ins);
  if (l.arena_bytes) {
    try {
      inst->arena = make_concrete(DType::Float32, Shape{static_cast<std::int64_t>(l.arena_bytes / 4)});
    } catch (const ResourceExhaustedError& e) {
      e.rethrow_with_context("[" + graph_->name() + "] the static memory plan's arena (" +
                             std::to_string(l.arena_bytes) + " bytes): ");
    }
  }
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    if (!l.planned[i]) continue;
    for (int out : steps_[i].out) {
      const auto o = static_cast<std::size_t>(out);
      const TensorSpec& spec = l.specs[o];
      Tensor t = make_flat_view(inst->arena, l.offset[o] / 4, 0);
      TensorImpl* impl = t.impl();
      impl->dtype = spec.dtype;
      impl->shape = spec.shape;
      impl->numel = spec.shape.num_elements();
      inst->impls[o] = impl;
      inst->planned[o] = std::move(t);
    }
  }
  for (std::size_t i = 0; i < steps_.size(); ++i)
    for (std::size_t j = 0; j < steps_[i].in.size(); ++j)
      if (l.offset[static_cast<std::size_t>(steps_[i].in[j])] >= 0)
        inst->ins[l.in_off[i] + j] = inst->planned[static_cast<std::size_t>(steps_[i].in[j])];
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
  // The layout for these argument shapes (the graph's own until they have been seen twice: a function
  // called once would pay for planning and an arena it never reuses), and an instance of it when it plans
  // memory, unless an observer watches the steps (it may keep what it is shown, which planned memory would
  // overwrite). Only one shape's instances are kept idle: when the shapes change (a last, smaller batch),
  // the others' arenas go back to the allocator.
  constexpr std::size_t kMaxSpecializations = 16;
  std::shared_ptr<const Layout> layout = base_;
  std::unique_ptr<Instance> inst;
  Specialization* spec = nullptr;
  bool new_instance = false;  // decided under the lock, made after it
  if (!t_step_observer) {
    // Arguments of fully known shapes always have those: no key to look up.
    std::unique_lock<std::mutex> lock(pool_mu_, std::defer_lock);
    if (static_args_) {
      lock.lock();
      spec = &static_spec_;
    } else {
      const std::vector<std::int64_t>& key = shapes_key(args);
      lock.lock();
      auto it = by_shapes_.find(key);
      if (it == by_shapes_.end() && by_shapes_.size() < kMaxSpecializations)
        it = by_shapes_.emplace(key, Specialization{}).first;
      if (it != by_shapes_.end()) spec = &it->second;
    }
    if (spec) {
      if (!spec->layout && ++spec->runs >= 2) {
        lock.unlock();
        auto built = specialize(args);
        lock.lock();
        if (!spec->layout) spec->layout = std::move(built);
      }
      if (spec->layout) {
        layout = spec->layout;
        if (layout->planned_values) {
          if (!spec->idle.empty()) {
            inst = std::move(spec->idle.back());
            spec->idle.pop_back();
          } else {
            for (auto& [k, other] : by_shapes_)
              if (&other != spec) other.idle.clear();
            if (spec != &static_spec_) static_spec_.idle.clear();
            new_instance = true;
          }
        }
      }
    }
  }
  if (new_instance) inst = make_instance(*layout);
  const Layout& L = *layout;
  struct InstanceGuard {
    const Plan& plan;
    const Layout& layout;
    Specialization* spec;
    std::unique_ptr<Instance>& inst;
    ~InstanceGuard() {
      if (!inst) return;
      for (std::size_t i = 0; i < plan.steps_.size(); ++i)  // give back what this run lent
        for (int j : layout.fed[i]) TensorAccess::forget(inst->ins[layout.in_off[i] + static_cast<std::size_t>(j)]);
      std::lock_guard<std::mutex> lock(plan.pool_mu_);
      spec->idle.push_back(std::move(inst));
    }
  } inst_guard{*this, L, spec, inst};
  const bool profiling = StepProfile::enabled();
  if (profiling && inst)
    StepProfile::get().note_arena(graph_->name() + "', arguments '" + shapes_str(args), L.arena_bytes,
                                  L.planned_values);
  const bool numerics = internal::numerics_checked();
  // One step, on either lane (ins and outs: the lane's scratch lists; in a segment, slots that a second-lane
  // step reads are released when the segment ends instead).
  auto run_step = [&](std::size_t i, Tensors& ins, Tensors& outs, bool in_segment) {
    const Step& st = steps_[i];
    const std::span<const TensorSpec> specs(&L.specs[static_cast<std::size_t>(st.out.empty() ? 0 : st.out[0])],
                                            st.out.size());
    std::span<const Tensor> in;
    std::span<Tensor> out;
    if (inst) {
      Tensor* base = inst->ins.data() + L.in_off[i];
      // Lent, not copied: the slots keep these alive until after the step (no reference counting).
      for (int j : L.fed[i])
        base[j] = TensorAccess::borrow(slots[static_cast<std::size_t>(st.in[static_cast<std::size_t>(j)])]);
      in = std::span<const Tensor>(base, st.in.size());
    } else {
      ins.clear();
      for (int s : st.in) ins.push_back(slots[static_cast<std::size_t>(s)]);
      in = std::span<const Tensor>(ins.data(), ins.size());
    }
    const auto t0 = profiling ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    try {
      if (inst && L.planned[i]) {
        out = std::span<Tensor>(&inst->planned[static_cast<std::size_t>(st.out[0])], st.out.size());
        run_kernel_into(*st.op, in, *st.attrs, specs, out);
        for (std::size_t k = 0; k < out.size(); ++k)
          if (out[k].impl() != inst->impls[static_cast<std::size_t>(st.out[k])])
            throw Error("[" + std::string(st.op->public_name) +
                        "] the kernel replaced its planned output (an op without the kView trait must write into "
                        "the outputs it is given; please report this)");
      } else {
        // Static steps: the layout was made for exactly these shapes, and inference validated them then.
        outs =
            L.static_step[i] ? run_kernel_with_specs(*st.op, in, *st.attrs, specs) : run_kernel(*st.op, in, *st.attrs);
        out = std::span<Tensor>(outs.data(), outs.size());
      }
    } catch (const Error& e) {
      e.rethrow_with_context("[" + graph_->name() + ", node " + st.node->name + "] ");
    }
    if (profiling)
      StepProfile::get().add(*st.node, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (t_step_observer) t_step_observer->on_step(*st.node, out);
    if (numerics) {
      internal::check_outputs_finite(*st.op, in, out,
                                     "node " + st.node->name + " of compiled function '" + graph_->name() + "'" +
                                         (st.node->scope.empty() ? "" : ", in layer '" + st.node->scope + "'"));
    }
    if (inst)
      for (int j : L.fed[i]) TensorAccess::forget(inst->ins[L.in_off[i] + static_cast<std::size_t>(j)]);
    if (!(inst && L.planned[i]))
      for (std::size_t k = 0; k < st.out.size(); ++k) slots[static_cast<std::size_t>(st.out[k])] = std::move(outs[k]);
    for (int s : st.release)
      if (!(in_segment && L.held[static_cast<std::size_t>(s)])) slots[static_cast<std::size_t>(s)] = Tensor();
  };
  Tensors ins, outs;
  const bool lanes = inst && !L.segments.empty() && (num_threads() >= 2 || lane_move_all()) && !omp_in_parallel();
  std::size_t next_segment = 0;
  for (std::size_t i = 0; i < steps_.size();) {
    if (lanes && next_segment < L.segments.size() && static_cast<std::size_t>(L.segments[next_segment].begin) == i) {
      const Layout::Segment& seg = L.segments[next_segment++];
      LaneTimes times;
      run_two_lanes(
          seg.begin, seg.end, seg.side_steps, L.side, L.wait,
          [&](std::size_t k, Tensors& a, Tensors& b) { run_step(k, a, b, true); }, ins, outs,
          profiling ? &times : nullptr);
      if (profiling) StepProfile::get().add_segment(graph_->name(), seg.begin, seg.end, seg.side_steps.size(), times);
      for (int s : seg.end_release) slots[static_cast<std::size_t>(s)] = Tensor();
      i = static_cast<std::size_t>(seg.end);
      continue;
    }
    run_step(i, ins, outs, false);
    ++i;
  }
  std::vector<Tensor> result;
  result.reserve(out_slots_.size());
  for (int s : out_slots_) result.push_back(slots[static_cast<std::size_t>(s)]);
  return result;
}

}  // namespace duet::exec
