#pragma once
// Two lanes for one plan run. A compiled step often walks a long chain of small dependent ops (a recurrent
// net's 50 cells, forward and backward) during which the second core idles: the ops are too small to
// split. Large products that the chain does not need until much later (the weight gradients' partial sums
// over the steps already walked) can run beside it, each op on one thread. The schedule is decided when a
// plan's memory is laid out, from estimated costs: which steps run on the second lane, and the segments
// of the plan (ranges of steps) during which both lanes run.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "ops/op_def.h"

namespace duet::exec {

// What the scheduler needs to know of one step.
struct LaneStep {
  double cost = 0;         // estimated nanoseconds on one thread
  bool candidate = false;  // may run on the second lane (a pure kernel writing into planned memory)
  bool barrier = false;    // must not run while the second lane is busy (state, user code, a heavy op)
  SmallVec<int, 4> deps;   // the steps producing its inputs
  int first_reader = 0;    // the first step reading one of its outputs (the step count when none)
};

struct LaneSegment {
  int begin = 0, end = 0;  // steps [begin, end): the second lane's steps are among them
};

struct LaneSchedule {
  std::vector<char> side;             // per step: runs on the second lane
  std::vector<LaneSegment> segments;  // in order, disjoint
};

// Estimated nanoseconds of one step on one thread: products by their multiply-adds, everything else by
// the elements it reads and writes. Only the products' estimates decide what moves to the second lane;
// the others only need the right order of magnitude.
double estimate_step_cost(const OpDef& op, const Attrs& attrs, std::span<const TensorSpec> ins,
                          std::span<const TensorSpec> outs);
// Whether the op has a reliable cost estimate and a kernel that only reads its inputs and writes its
// outputs (MatMul, MatMulSum).
bool lane_candidate_op(const OpDef& op);

// Greedy, in plan order: a candidate moves to the second lane when that lane (itself sequential) would
// finish it before the first lane, running the steps that are not candidates, reaches its first reader
// or a barrier. Its segment runs from its own position to that point.
LaneSchedule schedule_lanes(std::span<const LaneStep> steps);

// Steps costlier than this stay on the first lane with every thread, outside segments.
constexpr double kLaneHeavyStepNs = 200e3;
// A step worth moving: below this the overlap saves no more than the hand-over costs (two 47 us products
// of an MLP's backward, one per lane, trained 2% slower than both on two threads one after the other).
constexpr double kLaneMinSideNs = 100e3;

// Time spent by each lane of one segment (DUET_PROFILE), seconds.
struct LaneTimes {
  double wall = 0, first = 0, second = 0;
};

// Runs steps [begin, end) of a plan on two threads: the second runs side_steps in order, the first every
// other step. wait[i]: a side step waits until the first lane has run every step before position wait[i];
// a first-lane step until the second lane has finished wait[i] of side_steps. step(i, ins, outs) runs step
// i with the lane's scratch lists. Each lane runs its ops on one thread. The first error of either lane is
// rethrown once both have stopped; with one thread available the steps run in order. times: filled when
// given.
void run_two_lanes(int begin, int end, std::span<const int> side_steps, const std::vector<char>& side,
                   const std::vector<int>& wait, const std::function<void(std::size_t, Tensors&, Tensors&)>& step,
                   Tensors& ins, Tensors& outs, LaneTimes* times);

// DUET_LANES=0 turns the second lane off (plans laid out after that run their steps in order).
bool lanes_enabled();

// Test hooks (the lane tests and the program fuzzer), for plans laid out after the call. move_all: every
// product that can move does, whatever its cost and whether it would finish in time (small programs then
// use both lanes). order: how the lanes interleave: kFree as fast as they can; kSecondLate, the second
// lane starts each step only once the first has finished the segment or waits for it (what it reads must
// still be there); kSecondEarly, the first lane starts each step only once the second has finished or
// waits for it (what it writes must not be anything the first still needs).
enum class LaneOrder { kFree, kSecondLate, kSecondEarly };
void set_lane_testing(bool move_all, LaneOrder order);
bool lane_move_all();
LaneOrder lane_order();

}  // namespace duet::exec
