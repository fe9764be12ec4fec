#include "exec/lanes.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <limits>
#include <string>
#include <thread>

#include "exec/plan.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "ops/fused.h"

namespace duet::exec {
namespace {

// Products cost their flops at the speed this machine's one thread was measured at (a 32x128x512 product:
// 21 us on the EPYC the lanes were first tuned on, ~38 us on a Zen 4 EPYC of the same machine type: a
// constant made the second lane finish products later than the schedule assumed);
// an elementwise op on 32x128 floats ~1 us, a 4-way split of 32x512 ~4 us (memory in cache varies less).
constexpr double kCallNs = 500;
constexpr double kNsPerElement = 0.05;  // per element read or written, in cache

std::int64_t contraction(const TensorSpec& a, bool transposed) {
  const Shape& s = a.shape;
  if (s.rank() < 2) return 1;
  return transposed ? s[s.rank() - 2] : s[s.rank() - 1];
}

std::atomic<bool> g_move_all{false};
std::atomic<LaneOrder> g_order{LaneOrder::kFree};

}  // namespace

void set_lane_testing(bool move_all, LaneOrder order) {
  g_move_all.store(move_all);
  g_order.store(order);
}
bool lane_move_all() { return g_move_all.load(std::memory_order_relaxed); }

bool lanes_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("DUET_LANES");
    return !(v && std::string(v) == "0");
  }();
  return on;
}
LaneOrder lane_order() { return g_order.load(std::memory_order_relaxed); }

bool lane_candidate_op(const OpDef& op) { return &op == &matmul_op() || &op == &matmul_sum_op(); }

double estimate_step_cost(const OpDef& op, const Attrs& attrs, std::span<const TensorSpec> ins,
                          std::span<const TensorSpec> outs) {
  double elements = 0;
  for (const TensorSpec& t : ins) elements += static_cast<double>(std::max<std::int64_t>(0, t.shape.num_elements()));
  for (const TensorSpec& t : outs) elements += static_cast<double>(std::max<std::int64_t>(0, t.shape.num_elements()));
  if (!outs.empty() && !ins.empty() && lane_candidate_op(op)) {  // products: by their multiply-adds
    const double out = static_cast<double>(std::max<std::int64_t>(0, outs[0].shape.num_elements()));
    const bool ta = attrs.has("transpose_a") && attrs.b("transpose_a");
    double k = 0;
    if (&op == &matmul_op()) {
      k = static_cast<double>(contraction(ins[0], ta));
    } else {
      const auto terms = std::min<std::size_t>(ins.size(), static_cast<std::size_t>(attrs.i("terms")));
      for (std::size_t t = 0; t < terms; ++t) k += static_cast<double>(contraction(ins[t], ta));
    }
    return kCallNs + 2 * out * k / kernels::gemm_flops_per_ns_one_thread() + elements * kNsPerElement;
  }
  return kCallNs + elements * kNsPerElement;
}

LaneSchedule schedule_lanes(std::span<const LaneStep> s) {
  const int n = static_cast<int>(s.size());
  LaneSchedule out;
  out.side.assign(s.size(), 0);
  std::vector<int> next_barrier(s.size() + 1, n);
  for (int i = n - 1; i >= 0; --i) next_barrier[i] = s[i].barrier ? i : next_barrier[i + 1];
  // Where each step's result is first needed, and whether it could move at all: worth moving, with work
  // for the first lane before that point.
  std::vector<int> until(s.size());
  std::vector<char> movable(s.size());
  const bool all = lane_move_all();
  const double min_side = all ? 0 : kLaneMinSideNs;
  for (int i = 0; i < n; ++i) {
    until[i] = std::min(s[i].first_reader, next_barrier[i + 1]);
    movable[i] = s[i].candidate && !s[i].barrier && s[i].cost >= min_side && until[i] > i + 1;
  }
  // The first lane's work up to each step if everything movable moved (an underestimate of how long the
  // first lane takes to get anywhere, so a step moves only when it surely fits).
  std::vector<double> fixed(s.size() + 1, 0);
  for (int i = 0; i < n; ++i) fixed[i + 1] = fixed[i] + (movable[i] ? 0 : s[i].cost);
  std::vector<double> finish(s.size(), 0);
  double first = 0, second = 0;  // when each lane is next free
  for (int i = 0; i < n; ++i) {
    double ready = 0;
    for (int d : s[i].deps) ready = std::max(ready, finish[static_cast<std::size_t>(d)]);
    if (movable[i]) {
      // Launched when the first lane reaches it.
      const double done = std::max({second, ready, first}) + s[i].cost;
      const double needed = first + (fixed[until[i]] - fixed[i + 1]);
      if (all || done <= needed) {
        out.side[i] = 1;
        second = finish[i] = done;
        if (!out.segments.empty() && i <= out.segments.back().end)
          out.segments.back().end = std::max(out.segments.back().end, until[i]);
        else
          out.segments.push_back({i, until[i]});
        continue;
      }
    }
    first = finish[i] = std::max(first, ready) + s[i].cost;
  }
  return out;
}

void run_two_lanes(int begin, int end, std::span<const int> side_steps, const std::vector<char>& side,
                   const std::vector<int>& wait, const std::function<void(std::size_t, Tensors&, Tensors&)>& step,
                   Tensors& ins, Tensors& outs, LaneTimes* times) {
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  const auto start = times ? Clock::now() : Clock::time_point{};
  std::atomic<int> first_at{begin};  // the first lane has run every step before this position
  std::atomic<int> second_done{0};   // side steps finished
  RegionErrors errors;
  double busy[2] = {0, 0};
  // blocked[lane]: that lane is waiting for the other (the test orders hold one lane back until then).
  std::atomic<bool> blocked[2] = {false, false};
  // A lane waits for the other by spinning briefly (a hand-over is usually a few microseconds away), then
  // sleeps in the kernel until the other lane moves its counter: a partner descheduled by a busy machine
  // gets the core instead of a spinning waiter. A failing lane moves both counters to the end (kDone).
  constexpr int kDone = std::numeric_limits<int>::max();
  auto await = [&](int lane, std::atomic<int>& counter, int need) {
    if (counter.load(std::memory_order_acquire) >= need) return !errors.failed();
    blocked[lane].store(true, std::memory_order_release);
    for (int spin = 0;; ++spin) {
      const int now = counter.load(std::memory_order_acquire);
      if (now >= need || errors.failed()) break;
      if (spin >= 2048) counter.wait(now, std::memory_order_acquire);
    }
    blocked[lane].store(false, std::memory_order_release);
    return !errors.failed();
  };
  auto publish = [](std::atomic<int>& counter, int value) {
    counter.store(value, std::memory_order_release);
    counter.notify_all();
  };
  auto fail_both = [&] {
    publish(first_at, kDone);
    publish(second_done, kDone);
  };
  const LaneOrder order = lane_order();
  const int total = static_cast<int>(side_steps.size());
  // kSecondLate / kSecondEarly: one lane holds back until the other is done or waits for it.
  auto hold_back = [&](bool second_lane) {
    for (int spin = 0; !errors.failed(); ++spin) {
      if (second_lane
              ? first_at.load(std::memory_order_acquire) >= end || blocked[0].load(std::memory_order_acquire)
              : second_done.load(std::memory_order_acquire) >= total || blocked[1].load(std::memory_order_acquire))
        return;
      if (spin >= 4096) std::this_thread::yield();
    }
  };
  auto timed = [&](int lane, std::size_t i, Tensors& a, Tensors& b) {
    const auto t0 = times ? Clock::now() : Clock::time_point{};
    step(i, a, b);
    if (times) busy[lane] += since(t0);
  };
  auto first_lane = [&] {
    errors.run([&] {
      for (int i = begin; i < end && !errors.failed(); ++i) {
        if (side[static_cast<std::size_t>(i)]) continue;
        if (order == LaneOrder::kSecondEarly) hold_back(false);
        if (!await(0, second_done, wait[static_cast<std::size_t>(i)])) return;
        timed(0, static_cast<std::size_t>(i), ins, outs);
        publish(first_at, i + 1);
      }
      if (!errors.failed()) publish(first_at, end);
    });
    if (errors.failed()) fail_both();
  };
  auto second_lane = [&] {
    Tensors lane_ins, lane_outs;
    errors.run([&] {
      int done = 0;
      for (int i : side_steps) {
        if (order == LaneOrder::kSecondLate) hold_back(true);
        if (errors.failed() || !await(1, first_at, wait[static_cast<std::size_t>(i)])) return;
        timed(1, static_cast<std::size_t>(i), lane_ins, lane_outs);
        publish(second_done, ++done);
      }
    });
    if (errors.failed()) fail_both();
  };
  bool alone = false;
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer does not see OpenMP's hand-overs (libgomp is not instrumented; the region's record of
  // this frame's variables is written after anything this code could publish), so under it the second
  // lane is a thread of its own, and the sanitizer checks the lanes' hand-overs above.
  std::thread second(second_lane);
  first_lane();
  second.join();
#else
  // The second lane is OpenMP's second thread (idle while the first lane runs small ops one by one), and
  // each lane's ops run on one thread: OpenMP does not nest, and oneDNN runs single-threaded inside a
  // parallel region.
#pragma omp parallel num_threads(2)
  {
    if (omp_get_num_threads() < 2) {
      alone = true;
    } else if (omp_get_thread_num() == 0) {
      first_lane();
    } else {
      second_lane();
    }
  }
#endif
  errors.rethrow();
  if (alone)
    for (int i = begin; i < end; ++i) timed(0, static_cast<std::size_t>(i), ins, outs);
  if (times) *times = {since(start), busy[0], busy[1]};
}

// The plan's side: what the scheduler needs from a layout, and what its schedule means for the layout.
void Plan::schedule_lanes(Layout& l, const std::vector<int>& group_of, const std::vector<SmallVec<int, 2>>& roots,
                          const std::vector<int>& producer, std::vector<int>& last, std::vector<int>& placed_at) const {
  const std::size_t ns = steps_.size(), n = static_cast<std::size_t>(num_slots_);
  placed_at.resize(ns);
  for (std::size_t i = 0; i < ns; ++i) placed_at[i] = static_cast<int>(i);
  l.side.assign(ns, 0);
  l.wait.assign(ns, 0);
  l.held.assign(n, 0);
  if (!lanes_enabled() || (max_threads() < 2 && !lane_move_all())) return;
  std::vector<LaneStep> ls(ns);
  for (auto& s : ls) s.first_reader = static_cast<int>(ns);
  std::vector<TensorSpec> ins, outs;
  for (std::size_t i = 0; i < ns; ++i) {
    const Step& st = steps_[i];
    LaneStep& s = ls[i];
    const bool known = l.static_step[i];
    if (known) {
      ins.clear();
      outs.clear();
      for (int v : st.in) ins.push_back(l.specs[static_cast<std::size_t>(v)]);
      for (int o : st.out) outs.push_back(l.specs[static_cast<std::size_t>(o)]);
      s.cost = estimate_step_cost(*st.op, *st.attrs, ins, outs);
    }
    s.candidate = known && l.planned[i] && lane_candidate_op(*st.op);
    for (int o : st.out) s.candidate = s.candidate && group_of[static_cast<std::size_t>(o)] < 0;
    // Unknown shapes (a cost nobody can estimate), state (program order), user code, or an op that would
    // use every thread itself (costly, or a loop over enough elements to split; a view does no work):
    // the second lane must be idle.
    std::int64_t widest = 0;  // elements of the largest input or output
    for (int v : st.in) widest = std::max(widest, l.specs[static_cast<std::size_t>(v)].shape.num_elements());
    for (int o : st.out) widest = std::max(widest, l.specs[static_cast<std::size_t>(o)].shape.num_elements());
    const bool wide = !st.op->has(kView) && (s.cost > kLaneHeavyStepNs || widest >= 2 * kParallelGrain);
    s.barrier = !known || st.op->has(kStateful) || st.op->has(kRunsGraphs) || (!s.candidate && wide);
    for (int v : st.in) {
      const int p = producer[static_cast<std::size_t>(v)];
      if (p < 0) continue;
      s.deps.push_back(p);
      ls[static_cast<std::size_t>(p)].first_reader =
          std::min(ls[static_cast<std::size_t>(p)].first_reader, static_cast<int>(i));
    }
  }
  const LaneSchedule sched = exec::schedule_lanes(ls);
  if (sched.segments.empty()) return;
  l.side = sched.side;
  std::vector<int> release_step(n, -1), rank(ns, 0);
  for (std::size_t i = 0; i < ns; ++i)
    for (int s : steps_[i].release) release_step[static_cast<std::size_t>(s)] = static_cast<int>(i);
  for (const LaneSegment& seg : sched.segments) {
    Layout::Segment out{seg.begin, seg.end, {}, {}};
    for (int i = seg.begin; i < seg.end; ++i) {
      const auto ui = static_cast<std::size_t>(i);
      const Step& st = steps_[ui];
      int need = l.side[ui] ? seg.begin : 0;
      for (int v : st.in) {
        const int p = producer[static_cast<std::size_t>(v)];
        if (p < seg.begin || p >= i) continue;  // done before the segment (or an argument, a constant)
        if (!l.side[ui] && l.side[static_cast<std::size_t>(p)])
          need = std::max(need, rank[static_cast<std::size_t>(p)] + 1);
        if (l.side[ui] && !l.side[static_cast<std::size_t>(p)]) need = std::max(need, p + 1);
      }
      l.wait[ui] = need;
      if (!l.side[ui]) continue;
      rank[ui] = static_cast<int>(out.side_steps.size());
      out.side_steps.push_back(i);
      // The second lane runs this step at any time within the segment: what it reads stays where it is until
      // the segment ends, and what it writes has its bytes from the segment's start.
      placed_at[ui] = seg.begin;
      for (int v : st.in) {
        for (int r : roots[static_cast<std::size_t>(v)])
          last[static_cast<std::size_t>(r)] = std::max(last[static_cast<std::size_t>(r)], seg.end - 1);
        const int rs = release_step[static_cast<std::size_t>(v)];
        if (rs >= seg.begin && rs < seg.end && !l.held[static_cast<std::size_t>(v)]) {
          l.held[static_cast<std::size_t>(v)] = 1;
          out.end_release.push_back(v);
        }
      }
    }
    l.segments.push_back(std::move(out));
  }
}

std::size_t Plan::second_lane_steps() const {
  std::size_t n = 0;
  for (const auto& seg : base_->segments) n += seg.side_steps.size();
  return n;
}

}  // namespace duet::exec
