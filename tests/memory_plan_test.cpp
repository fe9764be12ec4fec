// The static memory plan of execution plans (src/exec/plan.h): intermediates of known shape share one
// arena by liveness, and nothing that outlives its last reader may be placed there: returned values,
// values returned through views, values a state op or a host function may keep. Each test runs a plan
// several times with different inputs (the first run goes without the arena, later ones use it) and keeps
// earlier results, which later runs must not overwrite.
#include "exec/plan.h"
#include "graph/tracer.h"
#include "passes/pass.h"
#include "test_util.h"

namespace duet {
namespace {

using Body = std::function<std::vector<Tensor>(const Tensor&)>;

// The graph of `body` over one float32 input of `shape`, without passes (every op its own step).
std::shared_ptr<graph::Graph> graph_of(const Body& body, const Shape& shape) {
  auto g = std::make_shared<graph::Graph>("plan", "a test is tracing it");
  graph::GraphTracer tr(*g, nullptr);
  Tensor x = g->symbolic({g->add_placeholder({DType::Float32, shape}), 0});
  for (const Tensor& t : body(x)) g->outputs().push_back(tr.value_of(t));
  return g;
}

Tensor chain(const Tensor& x, int n) {
  Tensor y = x;
  for (int i = 0; i < n; ++i) y = i % 2 ? tanh(y) + 0.25f : y * 0.75f;
  return y;
}

// Runs the plan on `runs` inputs, keeping every result, then compares all of them with eager results.
void expect_runs_match_eager(const Body& body, const Shape& shape, int runs) {
  auto plan = exec::Plan::build(graph_of(body, shape));
  std::vector<Tensor> inputs;
  std::vector<std::vector<Tensor>> got;
  for (int r = 0; r < runs; ++r) {
    inputs.push_back(random::normal(shape, 0, 1, DType::Float32, static_cast<std::uint64_t>(r + 1)));
    got.push_back(plan->run(std::vector<Tensor>{inputs.back()}));
  }
  for (int r = 0; r < runs; ++r) {
    auto want = body(inputs[static_cast<std::size_t>(r)]);
    ASSERT_EQ(got[static_cast<std::size_t>(r)].size(), want.size());
    for (std::size_t k = 0; k < want.size(); ++k)
      EXPECT_EQ(got[static_cast<std::size_t>(r)][k].to_vector<float>(), want[k].to_vector<float>())
          << "run " << r << ", output " << k;
  }
}

TEST(MemoryPlan, IntermediatesShareTheArenaByLiveness) {
  const Shape shape{64, 64};  // 16 KiB per value
  auto plan = exec::Plan::build(graph_of([](const Tensor& x) { return std::vector<Tensor>{chain(x, 40)}; }, shape));
  // Every value but the returned one is planned; a chain needs two of them at a time.
  EXPECT_EQ(plan->planned_values(), plan->num_steps() - 1);
  EXPECT_GE(plan->num_steps(), 40u);
  EXPECT_LE(plan->arena_bytes(), 2u * 64 * 64 * 4);
  EXPECT_GE(plan->arena_bytes(), 64u * 64 * 4);
  expect_runs_match_eager([](const Tensor& x) { return std::vector<Tensor>{chain(x, 40)}; }, shape, 4);
}

TEST(MemoryPlan, ReturnedValuesAndValuesReturnedThroughViewsAreNotPlanned) {
  const Body body = [](const Tensor& x) {
    Tensor kept = x * 3.f;        // returned through a view only
    Tensor later = chain(x, 12);  // would reuse kept's bytes if kept's life ended at the reshape
    return std::vector<Tensor>{reshape(kept, {-1}), later, later * 2.f};
  };
  auto plan = exec::Plan::build(graph_of(body, Shape{32, 32}));
  // Not planned: kept, its reshape (a view), later and later * 2; the rest of the chain is.
  EXPECT_EQ(plan->planned_values(), plan->num_steps() - 4);
  expect_runs_match_eager(body, Shape{32, 32}, 4);
}

TEST(MemoryPlan, AValueReadThroughAViewLivesUntilTheViewsLastReader) {
  const Body body = [](const Tensor& x) {
    Tensor t = exp(x * 0.5f);
    Tensor v = reshape(t, {-1});  // t's last direct reader
    Tensor c = chain(x, 16);      // many values planned while v is still to be read
    return std::vector<Tensor>{reshape(v, {32, 32}) + c};
  };
  expect_runs_match_eager(body, Shape{32, 32}, 4);
}

TEST(MemoryPlan, MultiOutputStepsAndUnreadOutputs) {
  const Body body = [](const Tensor& x) {
    auto parts = split(x * 2.f, 4, 1);  // parts[3] is never read
    return std::vector<Tensor>{chain(parts[0], 6) + parts[1] * parts[2]};
  };
  expect_runs_match_eager(body, Shape{16, 32}, 3);
}

// What a state op or a host function receives may be kept past its step: never planned.
TEST(MemoryPlan, ValuesAssignedToVariablesOrPassedToHostFunctionsAreNotOverwritten) {
  Variable v(zeros({32, 32}), {.name = "kept"});
  std::vector<Tensor> seen;  // what the host function kept, one per run
  auto f = function(
      [&](const Tensor& x) {
        Tensor a = x * 2.f;
        v.assign(a);
        Tensor b = tanh(x) + 1.f;
        host_function(
            [&](const std::vector<Tensor>& in) {
              seen.push_back(in[0]);
              return std::vector<Tensor>{};
            },
            {b}, {});
        return chain(x, 12);  // its values would reuse a's and b's bytes
      },
      {.name = "keeps"});
  for (int r = 0; r < 3; ++r) {
    Tensor x = random::normal({32, 32}, 0, 1, DType::Float32, static_cast<std::uint64_t>(r + 7));
    Tensor out = f(x);
    EXPECT_EQ(v.value().to_vector<float>(), (x * 2.f).to_vector<float>()) << "run " << r;
    EXPECT_EQ(out.to_vector<float>(), chain(x, 12).to_vector<float>()) << "run " << r;
    ASSERT_EQ(seen.size(), static_cast<std::size_t>(r + 1));
    EXPECT_EQ(seen.back().to_vector<float>(), (tanh(x) + 1.f).to_vector<float>()) << "run " << r;
  }
}

// A compiled training step of a layer stack, run many times: the planned path against eager steps.
TEST(MemoryPlan, CompiledGradientStepsMatchEagerOnEveryCall) {
  Variable w(random::normal({16, 16}, 0, 0.3, DType::Float32, 3), {.name = "w"});
  auto grads = [&](const Tensor& x) {
    GradientTape tape;
    Tensor h = x;
    for (int i = 0; i < 4; ++i) h = tanh(matmul(h, w.value()) + 0.1f);
    return std::vector<Tensor>{tape.gradient(mean(square(h)), w)};
  };
  auto f = function(grads, {.name = "step"});
  for (int r = 0; r < 4; ++r) {
    Tensor x = random::normal({8, 16}, 0, 1, DType::Float32, static_cast<std::uint64_t>(r + 20));
    testing::expect_close(testing::to_arr(f(x)[0]), testing::to_arr(grads(x)[0]), 1e-5, 1e-6,
                          "gradient, call " + std::to_string(r));
  }
}

// A graph with an unknown batch dim (every fit/predict step) is planned per argument shapes once they have
// been seen twice; alternating batch sizes (a last, smaller batch) keep giving eager's results.
TEST(MemoryPlan, UnknownDimsArePlannedPerArgumentShapes) {
  const Body body = [](const Tensor& x) { return std::vector<Tensor>{sum(chain(x, 10) * x, {1})}; };
  auto plan = exec::Plan::build(graph_of(body, Shape{Shape::kUnknown, 16}));
  EXPECT_EQ(plan->planned_values(), 0u);  // nothing is known before a run
  std::vector<Tensor> inputs, got;
  for (int r = 0; r < 8; ++r) {
    inputs.push_back(random::normal(Shape{r % 2 ? 3 : 8, 16}, 0, 1, DType::Float32, static_cast<std::uint64_t>(r + 1)));
    got.push_back(plan->run(std::vector<Tensor>{inputs.back()})[0]);
  }
  for (int r = 0; r < 8; ++r)
    EXPECT_EQ(got[static_cast<std::size_t>(r)].to_vector<float>(),
              body(inputs[static_cast<std::size_t>(r)])[0].to_vector<float>())
        << "run " << r;
  auto [bytes8, values8] = plan->memory_plan_for(std::vector<Tensor>{inputs[0]});
  auto [bytes3, values3] = plan->memory_plan_for(std::vector<Tensor>{inputs[1]});
  EXPECT_EQ(values8, plan->num_steps() - 1);  // all but the returned sum
  EXPECT_EQ(values8, values3);
  EXPECT_EQ(bytes8, 2u * 8 * 16 * 4);  // two values of (8, 16) at a time
  EXPECT_EQ(bytes3, 2u * ((3 * 16 * 4 + 63) / 64 * 64));
}

// A host function's output shape depends on the data, not on the argument shapes: what follows it must
// not be planned for the shape one run happened to produce.
TEST(MemoryPlan, ShapesThatDependOnDataAreNotFrozen) {
  auto first_rows = [](const std::vector<Tensor>& in) {
    const auto v = in[0].to_vector<float>();
    std::int64_t k = 1;
    while (k < in[0].shape()[0] && v[static_cast<std::size_t>(k * 4)] > 0) ++k;
    return std::vector<Tensor>{slice(in[0], {0, 0}, {k, 4})};
  };
  auto body = [&](const Tensor& x) {
    Tensor rows = host_function(first_rows, {x * 1.f}, {{DType::Float32, Shape{Shape::kUnknown, 4}}})[0];
    return sum(chain(rows, 6), {0});
  };
  auto f = function(
      body, {.name = "data_dependent", .input_signature = std::vector<TensorSpec>{{DType::Float32, Shape{6, 4}}}});
  for (int r = 0; r < 6; ++r) {
    Tensor x = random::normal({6, 4}, 0, 1, DType::Float32, static_cast<std::uint64_t>(r + 30));
    EXPECT_EQ(f(x).to_vector<float>(), body(x).to_vector<float>()) << "run " << r;
  }
}

// A sum of products becomes one MatMulSum (the matmul_sum pass); the plan lays the operands it would pack
// out back to back in term order, and the kernel reads them in place. Results match eager on every run
// (the first run packs, later ones read the arena); lists that cannot be laid out so (a repeated operand,
// sizes off the 64-byte grid, operands that are arguments) are left to packing and still match.
TEST(MemoryPlan, SumOfProductsOperandsAreLaidOutBackToBack) {
  struct Case {
    const char* name;
    Shape shape;
    Body body;
    std::size_t back_to_back;
  };
  auto sum_of_products = [](const Tensor& x, bool repeat_first) {
    const std::int64_t steps = x.shape()[0], rows = x.shape()[1], cols = x.shape()[2];
    auto xs = split(x, steps, 0);
    Tensor s, first;
    for (std::int64_t t = 0; t < steps; ++t) {
      Tensor a = tanh(reshape(xs[static_cast<std::size_t>(t)], {rows, cols}));
      Tensor g = a * 0.5f + 1.f;
      if (t == 0) first = a;
      Tensor p = matmul(repeat_first ? first : a, g, true);
      s = t ? s + p : p;
    }
    return std::vector<Tensor>{s};
  };
  const std::vector<Case> cases = {
      {"both operand lists", Shape{40, 32, 64}, [&](const Tensor& x) { return sum_of_products(x, false); }, 80},
      {"a repeated operand", Shape{40, 32, 64}, [&](const Tensor& x) { return sum_of_products(x, true); }, 40},
      {"off the grid", Shape{40, 33, 63}, [&](const Tensor& x) { return sum_of_products(x, false); }, 0},
  };
  for (const Case& c : cases) {
    auto g = graph_of(c.body, c.shape);
    passes::optimize(*g, PassOptions{}, true);
    ASSERT_NE(g->text().find("MatMulSum"), std::string::npos) << c.name << "\n" << g->text();
    auto plan = exec::Plan::build(g);
    EXPECT_EQ(plan->back_to_back_values(), c.back_to_back) << c.name;
    std::vector<Tensor> inputs;
    std::vector<Tensor> got;
    for (int r = 0; r < 3; ++r) {
      inputs.push_back(random::normal(c.shape, 0, 1, DType::Float32, static_cast<std::uint64_t>(r + 1)));
      got.push_back(plan->run(std::vector<Tensor>{inputs.back()})[0]);
    }
    for (int r = 0; r < 3; ++r)
      testing::expect_close(testing::to_arr(got[static_cast<std::size_t>(r)]),
                            testing::to_arr(c.body(inputs[static_cast<std::size_t>(r)])[0]), 1e-5, 1e-4,
                            std::string(c.name) + ", run " + std::to_string(r));
  }
}

}  // namespace
}  // namespace duet
