// Each pass fires on a small graph, the verifier accepts the result, and the plan computes the same.
//
//   x ──┬─ Mul(x, 2) ──┐
//       ├─ Mul(x, 2) ──┼─ Add ─ Add ── out          (CSE merges the two Muls)
//       └─ Exp (unused)│                            (DCE removes Exp)
//   Mul(Const 2, Const 3) ─────────┘                (constant folding makes it Const 6)
#include "exec/plan.h"
#include "graph/tracer.h"
#include "ops/op_def.h"
#include "passes/pass.h"
#include "test_util.h"

namespace duet {
namespace {

std::shared_ptr<graph::Graph> sample_graph() {
  auto g = std::make_shared<graph::Graph>("sample", "a test is tracing it");
  graph::GraphTracer tr(*g, nullptr);
  Tensor x = g->symbolic({g->add_placeholder({DType::Float32, Shape{3}}), 0});
  Tensor a = x * 2.f;
  Tensor b = x * 2.f;
  Tensor folded = scalar(2.f) * scalar(3.f);
  Tensor unused = exp(x);
  g->outputs().push_back(tr.value_of(a + b + folded));
  return g;
}

std::vector<float> run(const std::shared_ptr<graph::Graph>& g) {
  auto plan = exec::Plan::build(g);
  Tensor x = constant({1.f, -2.f, 0.5f});
  return plan->run(std::vector<Tensor>{x})[0].to_vector<float>();
}

std::size_t count(const graph::Graph& g, const char* op) {
  std::size_t n = 0;
  for (auto& node : g.nodes()) n += std::string(node->op->name) == op;
  return n;
}

TEST(Passes, DeadCodeEliminationRemovesUnusedNodes) {
  auto g = sample_graph();
  auto want = run(g);
  EXPECT_EQ(count(*g, "Exp"), 1u);
  std::string what = passes::dead_code_elimination()->run(*g);
  g->verify();
  EXPECT_EQ(what, "removed 1 nodes") << g->text();
  EXPECT_EQ(count(*g, "Exp"), 0u);
  EXPECT_EQ(run(g), want);
}

TEST(Passes, ConstantFoldingRunsTheKernel) {
  auto g = sample_graph();
  auto want = run(g);
  std::string before = g->text();
  std::string what = passes::constant_folding()->run(*g);
  g->verify();
  EXPECT_EQ(what, "folded 1 nodes") << before << g->text();
  EXPECT_EQ(count(*g, "Mul"), 2u);  // only the two Muls of x remain
  EXPECT_NE(g->text().find("Tensor(6.0"), std::string::npos) << g->text();
  EXPECT_EQ(run(g), want);
}

TEST(Passes, CommonSubexpressionEliminationMergesEqualNodes) {
  auto g = sample_graph();
  auto want = run(g);
  std::string what = passes::common_subexpression_elimination()->run(*g);
  passes::dead_code_elimination()->run(*g);
  g->verify();
  EXPECT_EQ(what, "merged 3 nodes") << g->text();  // the second Mul(x, 2) and two duplicate Const 2.0
  EXPECT_EQ(count(*g, "Mul"), 2u);                 // Mul(x, 2) and Mul(2, 3)
  EXPECT_EQ(run(g), want);
}

TEST(Passes, StatefulNodesAreNeverRemovedOrMerged) {
  Variable v(scalar(0.f), {.trainable = false});
  auto g = std::make_shared<graph::Graph>("stateful", "a test is tracing it");
  {
    graph::GraphTracer tr(*g, nullptr);
    Tensor x = g->symbolic({g->add_placeholder({DType::Float32, Shape{}}), 0});
    v.assign_add(x);           // result unused: DCE must keep it
    v.assign_add(x);           // identical: CSE must not merge it
    random::normal(Shape{2});  // random draws are stateful too
    g->outputs().push_back(tr.value_of(x));
  }
  passes::optimize(*g, PassOptions{}, true);
  EXPECT_EQ(count(*g, "AssignAddVariable"), 2u) << g->text();
  EXPECT_EQ(count(*g, "RandomNormal"), 1u);
  exec::Plan::build(g)->run(std::vector<Tensor>{scalar(1.5f)});
  EXPECT_EQ(v.value().item<float>(), 3.f);
}

TEST(Passes, StatsAppearInTheDumpAndPassesCanBeSwitchedOff) {
  auto on = function([](const Tensor& x) { return x * 2.f + x * 2.f + exp(scalar(0.f)); }, {.name = "on"});
  on(ones({2}));
  std::string t = on.graph_text();
  EXPECT_NE(t.find("# constant_folding: folded"), std::string::npos) << t;
  EXPECT_NE(t.find("# cse: merged"), std::string::npos) << t;
  EXPECT_NE(t.find("# dce: removed"), std::string::npos) << t;
  FunctionOptions o{.name = "off"};
  o.passes = {false, false, false, false};
  auto off = function([](const Tensor& x) { return x * 2.f + x * 2.f + exp(scalar(0.f)); }, o);
  EXPECT_EQ(off(ones({2})).to_vector<float>(), on(ones({2})).to_vector<float>());
  EXPECT_EQ(off.graph_text().find("# "), std::string::npos) << off.graph_text();
}

// Float32 groups run on the ops' block kernels: every op that has one, fused with neighbours, scalar
// operands on either side, an intermediate that is also returned, and a size that is not a whole number of
// blocks, must give what eager execution gives.
TEST(Passes, FusedFloat32BlockKernelsMatchEagerForEveryOp) {
  Tensor x = random::uniform(Shape{3, 1100}, 0.1, 2.0, DType::Float32, 11);
  Tensor z = random::uniform(Shape{3, 1100}, 0.1, 2.0, DType::Float32, 12);
  int checked = 0;
  for (const OpDef* op : all_ops()) {
    if (!op->block_f32) continue;
    ASSERT_TRUE(op->has(kElementwise)) << op->name;
    auto body = [op](const Tensor& a, const Tensor& b) -> std::vector<Tensor> {
      if (op->num_inputs == 1) {
        Tensor y = call(*op, {a * 1.25f + 0.05f});
        return {y * 0.5f + a, y};
      }
      Tensor y1 = call(*op, {a * 1.25f, b});
      Tensor y2 = call(*op, {a, scalar(0.7f)});
      Tensor y3 = call(*op, {scalar(1.3f), b});
      return {y1 + y2 * y3, y2};
    };
    FunctionOptions o{.name = op->public_name};
    o.passes.fusion_min_elements = 2;
    auto f = function(body, o);
    auto got = f(x, z);
    auto want = body(x, z);
    EXPECT_NE(f.graph_text().find("FusedElementwise"), std::string::npos) << op->name << "\n" << f.graph_text();
    for (std::size_t k = 0; k < want.size(); ++k) {
      auto g = got[k].to_vector<float>(), w = want[k].to_vector<float>();
      ASSERT_EQ(g.size(), w.size());
      for (std::size_t i = 0; i < g.size(); ++i)
        ASSERT_NEAR(g[i], w[i], 1e-6f * (1 + std::fabs(w[i]))) << op->name << " output " << k << " element " << i;
    }
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

// conv2d -> bias_add -> relu becomes one FusedConv2D only where each intermediate has no other reader.
TEST(Passes, ConvBiasReluFusesOnlySoleReaderChains) {
  Tensor x = random::normal(Shape{2, 6, 6, 8}, 0, 1, DType::Float32, 1),
         w = random::normal(Shape{3, 3, 8, 8}, 0, 0.3, DType::Float32, 2);
  Tensor b = random::normal(Shape{8}, 0, 1, DType::Float32, 3);
  Conv2DOptions same{.padding = "same"};
  auto whole = [&](const Tensor& in) { return relu(bias_add(conv2d(in, w, same), b)); };
  auto conv_also_returned = [&](const Tensor& in) -> std::vector<Tensor> {
    Tensor c = conv2d(in, w, same);
    return {relu(bias_add(c, b)), c};
  };
  auto pre_activation_also_used = [&](const Tensor& in) {
    Tensor z = bias_add(conv2d(in, w, same), b);
    return relu(z) + z * 0.5f;
  };
  auto f1 = function(whole, {.name = "whole"});
  Tensor y1 = f1(x);
  std::string t1 = f1.graph_text();
  EXPECT_NE(t1.find("FusedConv2D"), std::string::npos) << t1;
  EXPECT_NE(t1.find("activation=\"relu\""), std::string::npos) << t1;
  EXPECT_EQ(t1.find("= Relu("), std::string::npos) << t1;
  EXPECT_NE(t1.find("# conv_bias_activation: fused 1 conv2d + bias_add (1 with relu)"), std::string::npos) << t1;
  auto f2 = function(conv_also_returned, {.name = "returned"});
  auto y2 = f2(x);
  EXPECT_EQ(f2.graph_text().find("FusedConv2D"), std::string::npos) << f2.graph_text();
  auto f3 = function(pre_activation_also_used, {.name = "reused"});
  Tensor y3 = f3(x);
  std::string t3 = f3.graph_text();
  EXPECT_NE(t3.find("FusedConv2D"), std::string::npos) << t3;
  EXPECT_NE(t3.find("(0 with relu)"), std::string::npos) << t3;
  auto close = [](const Tensor& a, const Tensor& e) {
    auto g = a.to_vector<float>(), w = e.to_vector<float>();
    ASSERT_EQ(g.size(), w.size());
    for (std::size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], w[i], 1e-5f * (1 + std::fabs(w[i])));
  };
  close(y1, whole(x));
  close(y2[0], conv_also_returned(x)[0]);
  close(y3, pre_activation_also_used(x));
}

// fused_batch_norm -> relu: one FusedBatchNormRelu node when the relu is the normalized output's sole reader,
// in a training step too (the statistics feed the gradient); values and gradients as eager.
TEST(Passes, BatchNormReluFusesOnlyWhenReluIsTheSoleReader) {
  Tensor x = random::normal(Shape{4, 5, 5, 6}, 0, 1, DType::Float32, 1);
  Variable gamma(random::uniform(Shape{6}, 0.5, 1.5, DType::Float32, 2), {.name = "gamma"});
  Variable beta(random::normal(Shape{6}, 0, 0.5, DType::Float32, 3), {.name = "beta"});
  auto step = [&](const Tensor& in) -> std::vector<Tensor> {
    GradientTape tape;
    auto o = fused_batch_norm(in, gamma.value(), beta.value());
    Tensor loss = sum(max_pool2d(relu(o[0])) * 1.5f) + sum(o[1] * o[2]);
    auto g = tape.gradient(loss, {gamma, beta});
    return {loss, g[0], g[1]};
  };
  auto also_read = [&](const Tensor& in) {
    Tensor y = fused_batch_norm(in, gamma.value(), beta.value())[0];
    return relu(y) + y * 0.5f;
  };
  auto f = function(step, {.name = "bn_step", .check_eager = true});
  auto got = f(x);
  const std::string t = f.graph_text();
  EXPECT_NE(t.find("FusedBatchNormRelu("), std::string::npos) << t;
  EXPECT_EQ(t.find("= Relu("), std::string::npos) << t;
  EXPECT_NE(t.find("# batch_norm_relu: fused 1 fused_batch_norm + relu"), std::string::npos) << t;
  auto want = step(x);
  for (std::size_t i = 0; i < want.size(); ++i)
    testing::expect_close(testing::to_arr(got[i]), testing::to_arr(want[i]), 1e-5, 1e-5, "output " + std::to_string(i));
  auto g = function(also_read, {.name = "also_read"});
  Tensor y = g(x);
  EXPECT_EQ(g.graph_text().find("FusedBatchNormRelu"), std::string::npos) << g.graph_text();
  testing::expect_close(testing::to_arr(y), testing::to_arr(also_read(x)), 1e-5, 1e-5, "also read");
}

// A weight's gradient over the steps of a recurrent net is a sum of products: one MatMulSum. Products read
// elsewhere stay, and x @ wx + h @ wh (packing would copy both weights to save one addition) is left alone.
TEST(Passes, SumsOfProductsBecomeOneProductWhereItPays) {
  std::vector<Tensor> xs, gs;
  for (int t = 0; t < 12; ++t) {
    xs.push_back(random::normal(Shape{8, 16}, 0, 1, DType::Float32, static_cast<std::uint64_t>(t + 1)));
    gs.push_back(random::normal(Shape{8, 24}, 0, 1, DType::Float32, static_cast<std::uint64_t>(t + 50)));
  }
  auto weight_grad = [](const std::vector<Tensor>& x, const std::vector<Tensor>& g) {
    Tensor s = matmul(x[0], g[0], true);
    for (std::size_t t = 1; t < x.size(); ++t) s = s + matmul(x[t], g[t], true);
    return s;
  };
  auto f = function(weight_grad, {.name = "wgrad"});
  testing::expect_close(testing::to_arr(f(xs, gs)), testing::to_arr(weight_grad(xs, gs)), 1e-5, 1e-5, "sum of 12");
  std::string t = f.graph_text();
  EXPECT_NE(t.find("# matmul_sum: merged 12 products into 1 sums"), std::string::npos) << t;
  EXPECT_EQ(t.find("= MatMul("), std::string::npos) << t;

  // One product is also returned: it stays a MatMul and joins the sum as an addend.
  auto also_returned = [&](const std::vector<Tensor>& x, const std::vector<Tensor>& g) -> std::vector<Tensor> {
    Tensor p = matmul(x[0], g[0], true);
    return {weight_grad(x, g) + p, p};
  };
  auto f2 = function(also_returned, {.name = "returned"});
  auto got = f2(xs, gs);
  auto want = also_returned(xs, gs);
  testing::expect_close(testing::to_arr(got[0]), testing::to_arr(want[0]), 1e-5, 1e-5, "sum plus a returned product");
  EXPECT_EQ(got[1].to_vector<float>(), want[1].to_vector<float>());

  Tensor wx = random::normal(Shape{64, 256}, 0, 0.1, DType::Float32, 7),
         wh = random::normal(Shape{64, 256}, 0, 0.1, DType::Float32, 8);
  auto cell = [&](const Tensor& x, const Tensor& h) { return matmul(x, wx) + matmul(h, wh); };
  auto f3 = function(cell, {.name = "cell"});
  Tensor x = random::normal(Shape{4, 64}, 0, 1, DType::Float32, 9),
         h = random::normal(Shape{4, 64}, 0, 1, DType::Float32, 10);
  testing::expect_close(testing::to_arr(f3(x, h)), testing::to_arr(cell(x, h)), 1e-5, 1e-5, "cell");
  // Packing would copy both weights to save one addition: the products accumulate into the output instead.
  EXPECT_NE(f3.graph_text().find("pack=false"), std::string::npos) << f3.graph_text();
  EXPECT_NE(t.find("pack=true"), std::string::npos) << t;
}

// One product and an addend of the output's whole shape (a residual, a step's stacked input projection):
// the output starts as the addend and the product accumulates into it. A product plus only a bias stays.
TEST(Passes, OneProductJoinsASumOnlyWithAWholeShapeAddend) {
  Tensor w = random::normal(Shape{16, 24}, 0, 0.2, DType::Float32, 21);
  Tensor b = random::normal(Shape{24}, 0, 0.2, DType::Float32, 22);
  Tensor x = random::normal(Shape{8, 16}, 0, 1, DType::Float32, 23);
  Tensor r = random::normal(Shape{8, 24}, 0, 1, DType::Float32, 24);
  auto residual = [&](const Tensor& in, const Tensor& skip) { return matmul(in, w) + skip + b; };
  auto dense = [&](const Tensor& in) { return matmul(in, w) + b; };
  auto f1 = function(residual, {.name = "residual", .verify = true});
  testing::expect_close(testing::to_arr(f1(x, r)), testing::to_arr(residual(x, r)), 1e-5, 1e-5, "residual");
  const std::string t1 = f1.graph_text();
  EXPECT_NE(t1.find("terms=1"), std::string::npos) << t1;
  EXPECT_EQ(t1.find("= MatMul("), std::string::npos) << t1;
  auto f2 = function(dense, {.name = "dense", .verify = true});
  testing::expect_close(testing::to_arr(f2(x)), testing::to_arr(dense(x)), 1e-5, 1e-5, "dense");
  EXPECT_EQ(f2.graph_text().find("MatMulSum"), std::string::npos) << f2.graph_text();
  // Products of one row broadcast over an (8, 24) sum are addends, not terms of an (8, 24) product (the
  // pass once took them as terms and computed garbage: found by the program fuzzer).
  Tensor row1 = random::normal(Shape{1, 16}, 0, 1, DType::Float32, 25),
         row2 = random::normal(Shape{1, 16}, 0, 1, DType::Float32, 26);
  auto rows = [&](const Tensor& a, const Tensor& c, const Tensor& skip) { return matmul(a, w) + matmul(c, w) + skip; };
  auto f3 = function(rows, {.name = "rows", .verify = true});
  testing::expect_close(testing::to_arr(f3(row1, row2, r)), testing::to_arr(rows(row1, row2, r)), 1e-5, 1e-5,
                        "broadcast products");
}

// Every step of an input sequence times one input weight: the products become one product over the
// whole sequence, split after, so the loop keeps only h @ wh. Values and gradients are eager's (and the
// differential check, which compares each part with its step's product, passes), on the first call and
// on the memory plan's arena. Parts of unequal sizes used without a reshape stack too.
TEST(Passes, SplitPartsTimesOneWeightBecomeOneProduct) {
  Variable wx{random::normal(Shape{16, 32}, 0, 0.2, DType::Float32, 11), {.name = "wx"}};
  Variable wh{random::normal(Shape{32, 32}, 0, 0.2, DType::Float32, 12), {.name = "wh"}};
  Variable b{random::normal(Shape{32}, 0, 0.2, DType::Float32, 13), {.name = "b"}};
  auto rnn = [&](const Tensor& xs) -> std::vector<Tensor> {
    GradientTape tape;
    Tensor h = zeros({4, 32});
    auto steps = split(xs, 5, 0);
    for (const Tensor& s : steps) h = tanh(matmul(reshape(s, {4, 16}), wx) + matmul(h, wh) + b);
    auto g = tape.gradient(sum(h * h), {wx, wh, b});
    return {h, g[0], g[1], g[2]};
  };
  Tensor xs = random::normal(Shape{5, 4, 16}, 0, 1, DType::Float32, 14);
  auto f = function(rnn, {.name = "rnn", .verify = true, .check_eager = true});
  const auto want = rnn(xs);
  for (int call = 0; call < 3; ++call) {
    const auto got = f(xs);
    for (std::size_t k = 0; k < want.size(); ++k)
      testing::expect_close(testing::to_arr(got[k]), testing::to_arr(want[k]), 1e-5, 1e-5,
                            "call " + std::to_string(call) + ", output " + std::to_string(k));
  }
  const std::string t = f.graph_text();
  EXPECT_NE(t.find("# split_products: stacked 5 products into 1"), std::string::npos) << t;
  EXPECT_NE(t.find("(20, 32)"), std::string::npos) << t;  // the one product of all 20 rows

  Tensor w = random::normal(Shape{16, 8}, 0, 0.2, DType::Float32, 15);
  Tensor rows = random::normal(Shape{10, 16}, 0, 1, DType::Float32, 16);
  auto uneven = [&](const Tensor& x) -> std::vector<Tensor> {
    auto p = split(x, std::vector<std::int64_t>{3, 7}, 0);
    return {matmul(p[0], w), matmul(p[1], w) * 2.f};
  };
  auto fu = function(uneven, {.name = "uneven", .verify = true});
  const auto got_u = fu(rows), want_u = uneven(rows);
  for (std::size_t k = 0; k < 2; ++k)
    testing::expect_close(testing::to_arr(got_u[k]), testing::to_arr(want_u[k]), 1e-5, 1e-5, "uneven parts");
  EXPECT_NE(fu.graph_text().find("# split_products: stacked 2 products into 1"), std::string::npos) << fu.graph_text();
  // Nothing else read the parts: the old split is gone (it would copy the rows for nothing).
  EXPECT_EQ(fu.graph_text().find("= Split("), std::string::npos) << fu.graph_text();
}

// Large enough, the stacked product runs in blocks of steps, and a weight gradient's sum over the steps in
// partial sums where their terms are ready (so the plan's second lane can run them beside the chain of
// small steps: exec/lanes.h); values and gradients stay eager's, with the differential check on.
TEST(Passes, LargeStackedProductsRunInBlocksAndLongSumsInPartialSums) {
  Variable wx{random::normal(Shape{128, 512}, 0, 0.05, DType::Float32, 41), {.name = "wx"}};
  Variable wh{random::normal(Shape{128, 512}, 0, 0.05, DType::Float32, 42), {.name = "wh"}};
  auto lstm = [&](const Tensor& xs) -> std::vector<Tensor> {
    GradientTape tape;
    Tensor h = zeros({32, 128}), c = zeros({32, 128});
    for (const Tensor& s : split(xs, 16, 0)) {
      auto g = split(matmul(reshape(s, {32, 128}), wx) + matmul(h, wh), 4, 1);
      c = sigmoid(g[1]) * c + sigmoid(g[0]) * tanh(g[2]);
      h = sigmoid(g[3]) * tanh(c);
    }
    auto grads = tape.gradient(mean(square(h)), {wx, wh});
    return {h, grads[0], grads[1]};
  };
  Tensor xs = random::normal(Shape{16, 32, 128}, 0, 1, DType::Float32, 43);
  auto f = function(lstm, {.name = "lstm", .verify = true, .check_eager = true});
  const auto want = lstm(xs);
  for (int call = 0; call < 3; ++call) {
    const auto got = f(xs);
    for (std::size_t k = 0; k < want.size(); ++k)
      testing::expect_close(testing::to_arr(got[k]), testing::to_arr(want[k]), 1e-4, 1e-5,
                            "call " + std::to_string(call) + ", output " + std::to_string(k));
  }
  const std::string t = f.graph_text();
  // 16 steps' products of 32 x 128 x 512: 67 MFLOP, two blocks (>= 24 MFLOP each) of eight steps.
  EXPECT_NE(t.find("# split_products: stacked 16 products into 1"), std::string::npos) << t;
  EXPECT_NE(t.find("SplitView(%7; axis=0, sizes=[256, 256])"), std::string::npos) << t;
  // Each weight's gradient: 16 terms, two partial sums of eight.
  EXPECT_NE(t.find("# partial_sums: split 2 sums into 4 partial sums"), std::string::npos) << t;

  // Terms ready close together (a reshape and a scaling apart) stay one sum: no chain of work between them.
  auto at_once = [](const Tensor& x) -> std::vector<Tensor> {
    auto a = split(x, 16, 0);
    Tensor s;
    for (std::size_t i = 0; i < a.size(); ++i) {
      Tensor p = reshape(a[i], {64, 128});
      Tensor term = matmul(p, p * 0.5f, true);
      s = i ? s + term : term;
    }
    return {s};
  };
  Tensor x = random::normal(Shape{16, 64, 128}, 0, 1, DType::Float32, 44);
  auto fa = function(at_once, {.name = "at_once", .verify = true});
  testing::expect_close(testing::to_arr(fa(x)[0]), testing::to_arr(at_once(x)[0]), 1e-4, 1e-4, "at once");
  EXPECT_NE(fa.graph_text().find("# partial_sums: split 0 sums"), std::string::npos) << fa.graph_text();
}

// Stacking needs every part of a first-axis split multiplied, untransposed, by the same operand.
TEST(Passes, SplitPartsStayOneProductEachOtherwise) {
  Tensor w = random::normal(Shape{16, 8}, 0, 0.2, DType::Float32, 31);
  Tensor w2 = random::normal(Shape{16, 8}, 0, 0.2, DType::Float32, 32);
  Tensor x = random::normal(Shape{12, 16}, 0, 1, DType::Float32, 33);
  Tensor w8 = random::normal(Shape{8, 8}, 0, 0.2, DType::Float32, 34);
  Tensor y = random::normal(Shape{6, 4}, 0, 1, DType::Float32, 35);
  auto other_weight = [&](const Tensor& in) -> std::vector<Tensor> {
    auto p = split(in, 3, 0);
    return {matmul(p[0], w), matmul(p[1], w), matmul(p[2], w2)};
  };
  auto one_part_unused = [&](const Tensor& in) -> std::vector<Tensor> {
    auto p = split(in, 3, 0);
    return {matmul(p[0], w), matmul(p[1], w), p[2]};
  };
  auto other_axis = [&](const Tensor& in) -> std::vector<Tensor> {
    auto p = split(in, 2, 1);
    return {matmul(p[0], w8), matmul(p[1], w8)};
  };
  auto transposed_part = [&](const Tensor& in) -> std::vector<Tensor> {
    auto p = split(in, 2, 0);
    return {matmul(p[0], y, true), matmul(p[1], y, true)};
  };
  for (auto [name, body] : std::vector<std::pair<std::string, std::function<std::vector<Tensor>(const Tensor&)>>>{
           {"other_weight", other_weight},
           {"one_part_unused", one_part_unused},
           {"other_axis", other_axis},
           {"transposed_part", transposed_part}}) {
    auto f = function(body, {.name = name, .verify = true});
    const auto got = f(x), want = body(x);
    for (std::size_t k = 0; k < want.size(); ++k)
      testing::expect_close(testing::to_arr(got[k]), testing::to_arr(want[k]), 1e-5, 1e-5, name);
    EXPECT_NE(f.graph_text().find("# split_products: stacked 0 products"), std::string::npos) << name << "\n"
                                                                                              << f.graph_text();
  }
}

// Reads of one variable with no write between them merge; a read after a write is its own and sees the
// written value; the values the function returns are eager's.
TEST(Passes, VariableReadsMergeOnlyBetweenWrites) {
  Variable v{constant(std::vector<float>{1, 2, 3, 4}, Shape{2, 2}), {.name = "v"}};
  Tensor x = constant(std::vector<float>{1, -1, 0.5f, 2}, Shape{2, 2});
  auto body = [&](const Tensor& in) -> std::vector<Tensor> {
    Tensor a = matmul(in, v) + matmul(in * 2.f, v);  // two reads, one value
    Tensor before = v.value() * 1.f;
    v.assign_add(ones({2, 2}));
    Tensor after = matmul(in, v) + v.value();  // two reads after the write, one value
    v.assign_sub(ones({2, 2}));
    return {a, before, after};
  };
  auto f = function(body, {.name = "reads"});
  auto got = f(x);
  auto want = body(x);  // eager, same starting value (the compiled call put it back)
  for (std::size_t k = 0; k < want.size(); ++k)
    EXPECT_EQ(got[k].to_vector<float>(), want[k].to_vector<float>()) << "output " << k;
  const std::string t = f.graph_text();
  EXPECT_NE(t.find("# merge_variable_reads: merged 3 reads"), std::string::npos) << t;
  std::size_t reads = 0;
  for (std::size_t at = t.find("ReadVariable"); at != std::string::npos; at = t.find("ReadVariable", at + 1)) ++reads;
  EXPECT_EQ(reads, 2u) << t;  // one before the write, one after it
  EXPECT_EQ(v.value().to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
}

// A weight's transpose used by several few-row products (a recurrent net's backward pass) is made once;
// the products read it untransposed, and the gradients equal eager ones. Many-row products keep B^T.
TEST(Passes, WeightTransposedOnceForFewRowProducts) {
  Variable w{random::normal(Shape{24, 24}, 0, 0.2, DType::Float32, 5), {.name = "w"}};
  auto grads = [&](const Tensor& xs) {
    GradientTape tape;
    Tensor h = zeros({xs.shape()[1], 24});
    auto steps = split(xs, 6, 0);
    for (int t = 0; t < 6; ++t)
      h = tanh(matmul(reshape(steps[static_cast<std::size_t>(t)], {xs.shape()[1], 24}), w, false, true) + matmul(h, w));
    return tape.gradient(sum(h), {w});
  };
  for (std::int64_t rows : {8, 100}) {
    Tensor xs = random::normal(Shape{6, rows, 24}, 0, 1, DType::Float32, 6);
    auto f = function(grads, {.name = "rnn"});
    f(xs);
    f(xs);  // again, on the memory plan's arena
    testing::expect_close(testing::to_arr(f(xs)[0]), testing::to_arr(grads(xs)[0]), 1e-5, 1e-4,
                          "rows " + std::to_string(rows));
    const std::string t = f.graph_text();
    if (rows <= 64)
      EXPECT_NE(t.find("# transposed_operands: transposed 1 operands once"), std::string::npos) << t;
    else
      EXPECT_NE(t.find("# transposed_operands: transposed 0 operands"), std::string::npos) << t;
  }
}

TEST(Passes, VerifierRejectsBrokenGraphs) {
  auto g = sample_graph();
  g->outputs().push_back({g->nodes().back().get(), 5});  // output index out of range is caught at use
  auto& nodes = g->mutable_nodes();
  std::swap(nodes[1], nodes[2]);  // a node now uses a value defined later
  EXPECT_THROW(g->verify(), StateError);
}

}  // namespace
}  // namespace duet
