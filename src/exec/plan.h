#pragma once
// An execution plan: a graph flattened into steps over numbered value slots. Constants are bound once;
// each run feeds the arguments, runs the steps in order (shapes resolved per call, so unknown dims
// work), and drops every intermediate right after its last use so the caching allocator reuses buffers.
//
// The static memory plan: every intermediate whose shape is fully known when the plan is built, whose
// producer writes into preallocated outputs and whose readers do not keep it (no state op, control flow
// or host function reads it, directly or through a view; it is not returned) gets a fixed offset in one
// arena, assigned by liveness (a value's bytes are reused once its last reader, or the last reader of a
// view of it, has run). A run takes an Instance (the arena, a tensor handle per planned value, and every
// step's input list with the planned entries filled in once) from the plan's pool, so a planned step
// allocates nothing and touches no reference count; concurrent runs take different instances.
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace duet::exec {

class Plan {
 public:
  // Keeps g alive (steps point at its attrs).
  static std::shared_ptr<Plan> build(const std::shared_ptr<const graph::Graph>& g);
  std::vector<Tensor> run(std::span<const Tensor> args) const;
  const graph::Graph& graph() const { return *graph_; }
  std::size_t num_steps() const { return steps_.size(); }
  // The memory plan for the graph's own shapes (a graph with unknown dims is planned per argument shapes
  // when it runs: see memory_plan_for): bytes of one instance's arena, and how many values live in it.
  std::size_t arena_bytes() const { return base_->arena_bytes; }
  std::size_t planned_values() const { return base_->planned_values; }
  // Of those, values laid out back to back for a MatMulSum to read in place (see make_layout).
  std::size_t back_to_back_values() const { return base_->back_to_back_values; }
  // Steps of the graph's own layout that run on the second lane (exec/lanes.h), and in how many segments.
  std::size_t second_lane_steps() const;
  std::size_t lane_segments() const { return base_->segments.size(); }
  // The same for the arguments' shapes, after a run with them (zeros before that).
  std::pair<std::size_t, std::size_t> memory_plan_for(std::span<const Tensor> args) const;
  ~Plan();

 private:
  struct Step {
    const OpDef* op;
    const Attrs* attrs;
    const graph::Node* node;
    SmallVec<int, 4> in;
    SmallVec<int, 2> out;
    SmallVec<int, 4> release;  // slots whose last use is this step
  };
  // What is known for one set of argument shapes: every slot's spec, and the memory plan.
  struct Layout {
    std::vector<TensorSpec> specs;      // per slot
    std::vector<char> static_step;      // per step: every shape known, so no inference at run time
    std::vector<char> planned;          // per step: its outputs live in the arena
    std::vector<std::size_t> in_off;    // per step: its inputs in Instance::ins
    std::vector<SmallVec<int, 4>> fed;  // per step: inputs (positions in `in`) set from the slots each run
    std::vector<std::int64_t> offset;   // per slot: byte offset in the arena, or -1
    // Two lanes (exec/lanes.h): segments of steps during which a second thread runs the `side` steps.
    // wait[i]: a side step waits until the first lane has run every step before position wait[i]; a
    // first-lane step until the second lane has finished wait[i] of its segment's side steps.
    struct Segment {
      int begin = 0, end = 0;
      std::vector<int> side_steps;   // in order
      std::vector<int> end_release;  // slots read by a side step: released when the segment ends
    };
    std::vector<Segment> segments;
    std::vector<char> side;  // per step
    std::vector<int> wait;   // per step
    std::vector<char> held;  // per slot: in some segment's end_release (its last reader does not drop it)
    std::size_t arena_bytes = 0, planned_values = 0, back_to_back_values = 0, num_ins = 0;
  };
  struct Instance;
  // Argument shapes seen by runs: their layout once built, and idle instances of it.
  struct Specialization {
    std::shared_ptr<const Layout> layout;
    std::vector<std::unique_ptr<Instance>> idle;
    int runs = 0;
  };
  std::shared_ptr<const Layout> make_layout(std::vector<TensorSpec> specs) const;
  std::shared_ptr<const Layout> specialize(std::span<const Tensor> args) const;
  std::unique_ptr<Instance> make_instance(const Layout& l) const;
  // Fills l's lane schedule; extends `last` (per slot: the step after which its arena bytes are free) for
  // what the second lane reads, and says at which step each planned step's outputs are placed.
  void schedule_lanes(Layout& l, const std::vector<int>& group_of, const std::vector<SmallVec<int, 2>>& roots,
                      const std::vector<int>& producer, std::vector<int>& last, std::vector<int>& placed_at) const;

  std::shared_ptr<const graph::Graph> graph_;
  std::vector<Step> steps_;
  std::vector<std::pair<int, Tensor>> consts_;
  std::vector<int> arg_slots_;
  std::vector<int> out_slots_;
  int num_slots_ = 0;
  std::shared_ptr<const Layout> base_;  // the graph's own specs
  mutable std::mutex pool_mu_;
  bool static_args_ = false;            // every argument's shape is fully known: one specialization
  mutable Specialization static_spec_;  // ... which is this one
  mutable std::map<std::vector<std::int64_t>, Specialization> by_shapes_;  // keyed by argument dtypes and shapes
};

// Storage that lives as long as the outermost plan run on this thread, one list per key (nullptr outside a
// plan run): a host step's forward keeps the tape its backward, later in the same run, needs.
std::vector<std::shared_ptr<void>>* run_scoped(const void* key);

// Sees every step a plan runs on this thread while installed (check_eager compares node values).
class StepObserver {
 public:
  virtual ~StepObserver() = default;
  virtual void on_step(const graph::Node& node, std::span<const Tensor> outputs) = 0;
};
class ObserveSteps {
 public:
  explicit ObserveSteps(StepObserver* o);
  ~ObserveSteps();
  ObserveSteps(const ObserveSteps&) = delete;
  ObserveSteps& operator=(const ObserveSteps&) = delete;

 private:
  StepObserver* saved_;
};

}  // namespace duet::exec
