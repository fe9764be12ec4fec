#pragma once
// An execution plan: a graph flattened into steps over numbered value slots. Constants are bound once;
// each run feeds the arguments, runs the steps in order (shapes resolved per call, so unknown dims
// work), and drops every intermediate right after its last use so the caching allocator reuses buffers.
#include <memory>
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

 private:
  struct Step {
    const OpDef* op;
    const Attrs* attrs;
    const graph::Node* node;
    SmallVec<int, 4> in;
    SmallVec<int, 2> out;
    SmallVec<int, 4> release;  // slots whose last use is this step
    bool static_shapes;        // every input and output shape is fully known: no inference at run time
  };
  std::shared_ptr<const graph::Graph> graph_;
  std::vector<Step> steps_;
  std::vector<std::pair<int, Tensor>> consts_;
  std::vector<int> arg_slots_;
  std::vector<int> out_slots_;
  int num_slots_ = 0;
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
