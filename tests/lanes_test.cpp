// Two lanes (src/exec/lanes.h): which steps a plan runs beside its main sequence, and that doing so changes
// no result. The scheduler is tested on synthetic steps; plans are run with the test hook that moves even
// tiny products, in the three lane orders: free, the second lane as late as possible (what it reads must
// still be in the arena), and as early as possible (what it writes must not be anything the first lane
// still needs). Each run keeps earlier results, which later runs must not overwrite.
#include <optional>
#include <thread>

#include "exec/lanes.h"
#include "exec/plan.h"
#include "graph/tracer.h"
#include "passes/pass.h"
#include "test_util.h"

namespace duet {
namespace {

using exec::LaneOrder;

exec::LaneStep lane_step(double cost_us, bool candidate, std::initializer_list<int> deps, int first_reader,
                         bool barrier = false) {
  exec::LaneStep s;
  s.cost = cost_us * 1e3;
  s.candidate = candidate;
  s.barrier = barrier;
  for (int d : deps) s.deps.push_back(d);
  s.first_reader = first_reader;
  return s;
}

// A product (step 0) read only by the last step, after a chain of `chain` steps of `step_us` each.
std::vector<exec::LaneStep> product_then_chain(double product_us, int chain, double step_us) {
  std::vector<exec::LaneStep> s{lane_step(product_us, true, {}, chain + 1)};
  for (int i = 1; i <= chain; ++i) s.push_back(lane_step(step_us, false, {i - 1 > 0 ? i - 1 : 0}, i + 1));
  s.back().first_reader = chain + 1;
  s.push_back(lane_step(step_us, false, {0, chain}, chain + 2));
  return s;
}

TEST(Lanes, AProductNeededAfterAChainRunsBesideIt) {
  const auto steps = product_then_chain(200, 10, 30);  // 200 us of product, 300 us of chain
  const exec::LaneSchedule s = exec::schedule_lanes(steps);
  ASSERT_EQ(s.segments.size(), 1u);
  EXPECT_EQ(s.segments[0].begin, 0);
  EXPECT_EQ(s.segments[0].end, 11);  // the product's reader
  EXPECT_TRUE(s.side[0]);
  for (std::size_t i = 1; i < steps.size(); ++i) EXPECT_FALSE(s.side[i]) << i;
}

TEST(Lanes, AProductStaysWhenItWouldNotFinishInTimeOrIsNeededAtOnce) {
  // The chain is shorter than the product: the first lane would wait for it.
  EXPECT_TRUE(exec::schedule_lanes(product_then_chain(400, 10, 30)).segments.empty());
  // Below the smallest cost worth moving.
  EXPECT_TRUE(exec::schedule_lanes(product_then_chain(20, 10, 30)).segments.empty());
  // Read by the very next step.
  std::vector<exec::LaneStep> next{lane_step(200, true, {}, 1), lane_step(30, false, {0}, 2),
                                   lane_step(30, false, {1}, 3)};
  EXPECT_TRUE(exec::schedule_lanes(next).segments.empty());
  // A barrier (state, user code, an op that uses every thread) right after it: nothing to overlap with.
  auto barred = product_then_chain(200, 10, 30);
  barred[1].barrier = true;
  EXPECT_TRUE(exec::schedule_lanes(barred).segments.empty());
  // A barrier later in the chain ends the segment there, and the product must fit before it.
  auto cut = product_then_chain(200, 10, 30);
  cut[8].barrier = true;  // 210 us of chain before it
  auto s = exec::schedule_lanes(cut);
  ASSERT_EQ(s.segments.size(), 1u);
  EXPECT_EQ(s.segments[0].end, 8);
  cut[6].barrier = true;  // 150 us: too little
  EXPECT_TRUE(exec::schedule_lanes(cut).segments.empty());
}

TEST(Lanes, TheSecondLaneTakesWhatItCanFinishInTime) {
  // Three 200 us products, all read by the last step, then 350 us of chain: the first moves; the second
  // would finish at 400 us, after the chain, so it stays on the first lane (200 us there); the third then
  // finishes at 400 us against a first lane that reaches the reader at 550 us, so it moves.
  std::vector<exec::LaneStep> s{lane_step(200, true, {}, 10), lane_step(200, true, {}, 10),
                                lane_step(200, true, {}, 10)};
  for (int i = 3; i < 10; ++i) s.push_back(lane_step(50, false, {}, i + 1));
  s.push_back(lane_step(10, false, {0, 1, 2, 9}, 11));
  const auto sched = exec::schedule_lanes(s);
  EXPECT_EQ(std::vector<char>(sched.side.begin(), sched.side.begin() + 3), (std::vector<char>{1, 0, 1}));
  ASSERT_EQ(sched.segments.size(), 1u);  // one segment: the two moved products' ranges overlap
  EXPECT_EQ(sched.segments[0].begin, 0);
  EXPECT_EQ(sched.segments[0].end, 10);
}

// The lane hooks for one test (every product that can move does, or only what the costs say), in the
// given order; restored afterwards.
struct LaneTesting {
  LaneTesting(bool move_all, LaneOrder order) { exec::set_lane_testing(move_all, order); }
  ~LaneTesting() { exec::set_lane_testing(false, LaneOrder::kFree); }
};

struct Threads {
  explicit Threads(int n) : saved(config::num_threads()) { config::set_num_threads(n); }
  ~Threads() { config::set_num_threads(saved); }
  int saved;
};

using Body = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

std::shared_ptr<graph::Graph> graph_of(const Body& body, const std::vector<Shape>& shapes, bool optimize,
                                       DType dtype = DType::Float32) {
  auto g = std::make_shared<graph::Graph>("lanes", "a test is tracing it");
  graph::GraphTracer tr(*g, nullptr);
  std::vector<Tensor> xs;
  for (const Shape& s : shapes) xs.push_back(g->symbolic({g->add_placeholder({dtype, s}), 0}));
  for (const Tensor& t : body(xs)) g->outputs().push_back(tr.value_of(t));
  if (optimize) passes::optimize(*g, PassOptions{}, true);
  return g;
}

Tensor chain(const Tensor& x, int n) {
  Tensor y = x;
  for (int i = 0; i < n; ++i) y = i % 2 ? tanh(y) + 0.25f : y * 0.75f;
  return y;
}

std::vector<Tensor> inputs_for(const std::vector<Shape>& shapes, int run, DType dtype = DType::Float32) {
  std::vector<Tensor> in;
  for (std::size_t i = 0; i < shapes.size(); ++i)
    in.push_back(random::normal(shapes[i], 0, 1, dtype, static_cast<std::uint64_t>(100 * run + i + 1)));
  return in;
}

// Runs the plan 4 times in each lane order (keeping every result), expects it to use the second lane, and
// compares everything with eager results. In float32 the products run in oneDNN; in float64 in duet's own
// loops, which a thread sanitizer sees (it sees only instrumented code read and write the values).
void expect_lanes_match_eager(const char* name, const Body& body, const std::vector<Shape>& shapes,
                              bool optimize = false, bool move_all = true, float tol = 0) {
  // The cost-based schedule needs two threads; moving every product works with any number (the thread
  // sanitizer's run has one, and the lanes still run on two threads).
  std::optional<Threads> two;
  if (!move_all) two.emplace(2);
  for (DType dtype : {DType::Float32, DType::Float64}) {
    if (dtype == DType::Float64 && !move_all) continue;
    for (LaneOrder order : {LaneOrder::kFree, LaneOrder::kSecondLate, LaneOrder::kSecondEarly}) {
      LaneTesting hooks(move_all, order);
      auto plan = exec::Plan::build(graph_of(body, shapes, optimize, dtype));
      EXPECT_GT(plan->second_lane_steps(), 0u) << name << ": nothing moved to the second lane";
      std::vector<std::vector<Tensor>> got;
      for (int r = 0; r < 4; ++r) got.push_back(plan->run(inputs_for(shapes, r, dtype)));
      for (int r = 0; r < 4; ++r) {
        const auto want = body(inputs_for(shapes, r, dtype));
        ASSERT_EQ(got[static_cast<std::size_t>(r)].size(), want.size());
        for (std::size_t k = 0; k < want.size(); ++k) {
          const auto g = got[static_cast<std::size_t>(r)][k].to_vector<double>(), w = want[k].to_vector<double>();
          ASSERT_EQ(g.size(), w.size());
          for (std::size_t e = 0; e < g.size(); ++e)
            ASSERT_NEAR(g[e], w[e], tol * (1 + std::abs(w[e])))
                << name << ", " << dtype_name(dtype) << ", order " << static_cast<int>(order) << ", run " << r
                << ", output " << k << ", element " << e;
        }
      }
    }
  }
}

TEST(Lanes, WhatTheSecondLaneReadsIsNotOverwrittenBeforeItRuns) {
  // a's last reader is the product on the second lane; the first lane's chain then needs new values of
  // a's size, which would take a's bytes if the product read it where it stands in the plan.
  expect_lanes_match_eager("reads",
                           [](const std::vector<Tensor>& x) {
                             Tensor a = x[0] * 0.5f;
                             Tensor b = tanh(a);
                             Tensor p = matmul(a, x[0]);
                             return std::vector<Tensor>{p + chain(b, 12)};
                           },
                           {Shape{48, 48}});
}

TEST(Lanes, WhatTheSecondLaneWritesIsNotAnythingTheFirstStillNeeds) {
  // The second product depends only on the argument: the second lane can write it long before the first
  // lane reaches its place in the plan, while the chain's values (which die before that place) still live.
  expect_lanes_match_eager("writes",
                           [](const std::vector<Tensor>& x) {
                             Tensor p1 = matmul(x[0], x[0]);
                             Tensor c1 = chain(x[0], 8);
                             Tensor p2 = matmul(x[0], x[0], false, true);
                             Tensor c2 = chain(c1, 8);
                             return std::vector<Tensor>{p1 + c2, p2 - c2};
                           },
                           {Shape{48, 48}});
}

TEST(Lanes, EachLaneWaitsForWhatItReadsFromTheOther) {
  // One segment: the second lane's p2 reads c1, made by the first lane inside the segment; the first lane's
  // d reads p1, made by the second lane inside the segment (p3, read only at the end, keeps it open).
  expect_lanes_match_eager("hand-overs",
                           [](const std::vector<Tensor>& x) {
                             Tensor p1 = matmul(x[0], x[0]);
                             Tensor p3 = matmul(x[0], x[0], false, true);
                             Tensor c1 = chain(x[0], 6);
                             Tensor p2 = matmul(c1, x[0]);
                             Tensor d = c1 + p1;
                             Tensor c2 = chain(d, 6);
                             return std::vector<Tensor>{c2 + p2 + p3};
                           },
                           {Shape{48, 48}});
}

TEST(Lanes, ProductsReadThroughViewsAndReadingViews) {
  // The second lane reads a reshaped value and a split part; the first lane reads its result through a
  // reshape and a split.
  expect_lanes_match_eager("views",
                           [](const std::vector<Tensor>& x) {
                             Tensor v = reshape(x[0] * 2.f, {32, 72});
                             auto parts = split(x[1], 2, 0);
                             Tensor p = matmul(v, parts[1]);  // (32, 72) @ (72, 40)
                             Tensor c = chain(parts[0], 10);  // (72, 40)
                             auto halves = split(reshape(p, {64, 20}), 2, 0);
                             return std::vector<Tensor>{halves[1] + 1.f, sum(c, {0}), halves[0]};
                           },
                           {Shape{48, 48}, Shape{144, 40}});
}

TEST(Lanes, AViewOfALargeValueDoesNotEndASegmentButAWideOpDoes) {
  // The chain reshapes a 512 x 512 value (a view: no work) while the product runs: one segment, which ends
  // at the sum over that value (a loop long enough to use every thread itself). A wide elementwise op right
  // after the product leaves it nothing to overlap with: it stays on the first lane.
  expect_lanes_match_eager("large view",
                           [](const std::vector<Tensor>& x) {
                             Tensor p = matmul(x[0], x[0]);
                             Tensor big = reshape(x[1], {256, 1024});
                             Tensor c = chain(x[0], 6) + sum(big);
                             return std::vector<Tensor>{p + chain(c, 6)};
                           },
                           {Shape{48, 48}, Shape{512, 512}});
  LaneTesting hooks(true, LaneOrder::kFree);
  Body wide = [](const std::vector<Tensor>& x) {
    Tensor p = matmul(x[0], x[0]);
    Tensor big = tanh(x[1]) * 2.f;  // 262,144 elements: wide
    return std::vector<Tensor>{p + chain(x[0], 6) + sum(big)};
  };
  auto plan = exec::Plan::build(graph_of(wide, {Shape{48, 48}, Shape{512, 512}}, false));
  EXPECT_EQ(plan->second_lane_steps(), 0u) << "the product's first reader comes after the wide ops";
  Body view = [](const std::vector<Tensor>& x) {
    Tensor p = matmul(x[0], x[0]);
    Tensor big = reshape(x[1], {256, 1024});
    return std::vector<Tensor>{p + chain(x[0], 6) + sum(big)};
  };
  plan = exec::Plan::build(graph_of(view, {Shape{48, 48}, Shape{512, 512}}, false));
  EXPECT_EQ(plan->second_lane_steps(), 1u);
  EXPECT_EQ(plan->lane_segments(), 1u);
}

TEST(Lanes, RecurrentGradientsMatchEagerWithTheDefaultThresholds) {
  // An LSTM's gradients, optimized: the input projection runs in blocks and the weight gradients in partial
  // sums, several of them on the second lane with the real cost thresholds.
  auto lstm = [](const std::vector<Tensor>& in) {
    const Tensor& xs = in[0];
    const Tensor &wx = in[1], &wh = in[2];
    GradientTape tape;
    tape.watch(wx);
    tape.watch(wh);
    const std::int64_t steps = xs.shape()[0], batch = xs.shape()[1], hidden = wh.shape()[0];
    Tensor h = zeros({batch, hidden}), c = zeros({batch, hidden});
    auto x = split(xs, steps, 0);
    for (std::int64_t t = 0; t < steps; ++t) {
      Tensor z = matmul(reshape(x[static_cast<std::size_t>(t)], {batch, xs.shape()[2]}), wx) + matmul(h, wh);
      auto g = split(z, 4, 1);
      c = sigmoid(g[1]) * c + sigmoid(g[0]) * tanh(g[2]);
      h = sigmoid(g[3]) * tanh(c);
    }
    Tensor loss = mean(square(h));
    auto grads = tape.gradient(loss, {wx, wh});
    return std::vector<Tensor>{loss, grads[0], grads[1]};
  };
  const std::vector<Shape> shapes{Shape{24, 32, 128}, Shape{128, 512}, Shape{128, 512}};
  auto g = graph_of(lstm, shapes, true);
  EXPECT_NE(g->text().find("SplitView"), std::string::npos);
  expect_lanes_match_eager("lstm", lstm, shapes, true, false, 2e-4f);
}

TEST(Lanes, ConcurrentRunsOfOnePlanEachUseTwoLanes) {
  LaneTesting hooks(true, LaneOrder::kFree);
  Body body = [](const std::vector<Tensor>& x) {
    Tensor p = matmul(x[0], x[0]);
    return std::vector<Tensor>{p + chain(x[0], 12)};
  };
  auto plan = exec::Plan::build(graph_of(body, {Shape{48, 48}}, false));
  ASSERT_GT(plan->second_lane_steps(), 0u);
  std::vector<std::vector<float>> got(4), want(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < 20; ++r)
        got[static_cast<std::size_t>(t)] = plan->run(inputs_for({Shape{48, 48}}, t))[0].to_vector<float>();
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t)
    EXPECT_EQ(got[static_cast<std::size_t>(t)], body(inputs_for({Shape{48, 48}}, t))[0].to_vector<float>()) << t;
}

TEST(Lanes, AnErrorOnEitherLaneReachesTheCallerAndTheNextRunIsFine) {
  Body body = [](const std::vector<Tensor>& x) {
    Tensor p = matmul(x[0], x[0]);  // on the second lane
    return std::vector<Tensor>{p + chain(x[1], 12)};
  };
  const std::vector<Shape> shapes{Shape{48, 48}, Shape{48, 48}};
  for (LaneOrder order : {LaneOrder::kFree, LaneOrder::kSecondLate, LaneOrder::kSecondEarly}) {
    LaneTesting hooks(true, order);
    auto plan = exec::Plan::build(graph_of(body, shapes, false));
    ASSERT_GT(plan->second_lane_steps(), 0u);
    for (int r = 0; r < 2; ++r) plan->run(inputs_for(shapes, r));  // from the second run on: the arena, two lanes
    for (int bad : {0, 1}) {  // a NaN where the second lane reads it, then where the first does
      auto in = inputs_for(shapes, 0);
      std::vector<float> v = in[static_cast<std::size_t>(bad)].to_vector<float>();
      v[5] = std::nanf("");
      in[static_cast<std::size_t>(bad)] = constant(v, shapes[static_cast<std::size_t>(bad)]);
      config::enable_check_numerics();
      try {
        plan->run(in);
        ADD_FAILURE() << "no error with a NaN in input " << bad;
      } catch (const NumericsError& e) {
        EXPECT_NE(std::string(e.what()).find("compiled function 'lanes'"), std::string::npos) << e.what();
      }
      config::disable_check_numerics();
      const auto ok = inputs_for(shapes, 1);
      for (int r = 0; r < 2; ++r)
        EXPECT_EQ(plan->run(ok)[0].to_vector<float>(), body(ok)[0].to_vector<float>()) << "after an error, run " << r;
    }
  }
}

TEST(Lanes, OneThreadRunsTheSameScheduleInOrder) {
  Body body = [](const std::vector<Tensor>& x) {
    Tensor p = matmul(x[0], x[0]);
    return std::vector<Tensor>{p + chain(x[0], 12)};
  };
  std::shared_ptr<exec::Plan> plan;
  {
    LaneTesting hooks(true, LaneOrder::kFree);
    plan = exec::Plan::build(graph_of(body, {Shape{48, 48}}, false));
    for (int r = 0; r < 2; ++r) plan->run(inputs_for({Shape{48, 48}}, r));  // the layout with two lanes
  }
  ASSERT_GT(plan->second_lane_steps(), 0u);
  Threads one(1);  // set after the layout: its segments run in order
  for (int r = 0; r < 3; ++r)
    EXPECT_EQ(plan->run(inputs_for({Shape{48, 48}}, r))[0].to_vector<float>(),
              body(inputs_for({Shape{48, 48}}, r))[0].to_vector<float>());
}

}  // namespace
}  // namespace duet
