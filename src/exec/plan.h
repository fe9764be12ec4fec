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
#include <atomic>
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
  // The static memory plan: bytes of one instance's arena, and how many values live in it.
  std::size_t arena_bytes() const { return arena_bytes_; }
  std::size_t planned_values() const { return planned_values_; }
  ~Plan();

 private:
  struct Step {
    const OpDef* op;
    const Attrs* attrs;
    const graph::Node* node;
    SmallVec<int, 4> in;
    SmallVec<int, 2> out;
    SmallVec<int, 4> release;  // slots whose last use is this step
    bool static_shapes;        // every input and output shape is fully known: no inference at run time
    bool planned = false;      // its outputs live in the arena
    std::size_t in_off = 0;    // its inputs in Instance::ins
    SmallVec<int, 4> fed;      // inputs (positions in `in`) not in the arena: set from the slots each run
  };
  struct Instance;
  void plan_memory();
  std::unique_ptr<Instance> make_instance() const;

  std::shared_ptr<const graph::Graph> graph_;
  std::vector<Step> steps_;
  std::vector<std::pair<int, Tensor>> consts_;
  std::vector<int> arg_slots_;
  std::vector<int> out_slots_;
  int num_slots_ = 0;
  std::vector<std::int64_t> arena_offset_;  // per slot: byte offset in the arena, or -1
  std::size_t arena_bytes_ = 0, planned_values_ = 0, num_ins_ = 0;
  mutable std::atomic<bool> ran_{false};
  mutable std::mutex pool_mu_;
  mutable std::vector<std::unique_ptr<Instance>> idle_;
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
