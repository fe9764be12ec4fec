// Elementwise fusion across splits and concats: a group reads the parts of a split in place and writes the
// parts of a concat, and groups that meet at one node (or at one concat) merge. Every case is checked
// against eager execution (and float64 for the recurrent cell), with the graph verifier on after each pass.
#include <cmath>

#include "test_util.h"

namespace duet {
namespace {

FunctionOptions fuse_all(const char* name) {
  FunctionOptions o{.name = name, .verify = true};
  o.passes.fusion_min_elements = 1;
  return o;
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

void expect_close(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t k = 0; k < want.size(); ++k) {
    ASSERT_EQ(got[k].shape(), want[k].shape()) << what << " output " << k;
    auto g = got[k].to_vector<double>(), w = want[k].to_vector<double>();
    for (std::size_t i = 0; i < g.size(); ++i)
      ASSERT_NEAR(g[i], w[i], tol * (1 + std::fabs(w[i]))) << what << " output " << k << " element " << i;
  }
}

// One LSTM cell and its gradient (the gates come from one split; their gradients go back through one concat).
std::vector<Tensor> lstm_cell_grads(const Tensor& z, const Tensor& c, const Tensor& dh) {
  GradientTape tape;
  tape.watch(z);
  tape.watch(c);
  auto gates = split(z, 4, 1);
  Tensor i = sigmoid(gates[0]), f = sigmoid(gates[1]), g = tanh(gates[2]), o = sigmoid(gates[3]);
  Tensor c2 = f * c + i * g;
  Tensor h = o * tanh(c2);
  Tensor loss = sum(h * dh) + sum(c2 * c2);
  auto grads = tape.gradient(loss, {z, c});
  return {h, c2, grads[0], grads[1]};
}

// The cell is one fused node forward and one backward: no Split, no Concat left. Sizes: rows that straddle
// the 1024-element blocks (37 columns), a few rows inside one block, and enough work for several threads.
TEST(Fusion, LstmCellIsOneFusedNodeEachWayAndMatchesFloat64) {
  for (auto [rows, cols] : {std::pair<std::int64_t, std::int64_t>{5, 7}, {300, 37}, {32, 128}}) {
    const std::string what = "cell " + std::to_string(rows) + "x" + std::to_string(cols);
    Tensor z = random::normal(Shape{rows, 4 * cols}, 0, 2, DType::Float32, 1);
    Tensor c = random::normal(Shape{rows, cols}, 0, 1, DType::Float32, 2);
    Tensor dh = random::normal(Shape{rows, cols}, 0, 1, DType::Float32, 3);
    auto f = function(lstm_cell_grads, fuse_all("lstm_cell"));
    auto got = f(z, c, dh);
    const std::string text = f.graph_text();
    EXPECT_EQ(count(text, "= FusedElementwise"), 2) << what << "\n" << text;
    EXPECT_EQ(count(text, "= Split"), 0) << what << "\n" << text;
    EXPECT_EQ(count(text, "= Concat"), 0) << what << "\n" << text;
    EXPECT_EQ(count(text, "reads 4 split parts"), 1) << text;
    EXPECT_EQ(count(text, "writes 4 concat parts"), 1) << text;
    auto f64 = [](const Tensor& t) { return cast(t, DType::Float64); };
    expect_close(got, lstm_cell_grads(f64(z), f64(c), f64(dh)), 2e-5, what + " vs float64");
    expect_close(got, lstm_cell_grads(z, c, dh), 1e-6, what + " vs eager float32");
  }
}

// Split parts along every axis (negative too), into equal and unequal sizes, read in place.
TEST(Fusion, SplitPartsAreReadInPlaceAlongEveryAxis) {
  Tensor x = random::uniform(Shape{6, 9, 12}, -2, 2, DType::Float32, 4);
  for (std::int64_t axis : {0, 1, 2, -1}) {
    auto body = [axis](const Tensor& v) {
      auto p = split(v, 3, axis);
      return exp(p[0]) * p[1] - tanh(p[2]);
    };
    auto f = function(body, fuse_all("split_parts"));
    auto got = f(x);
    const std::string text = f.graph_text();
    EXPECT_EQ(count(text, "= Split"), 0) << "axis " << axis << "\n" << text;
    EXPECT_EQ(count(text, "reads 3 split parts"), 1) << "axis " << axis << "\n" << text;
    expect_close({got}, {body(x)}, 1e-6, "axis " + std::to_string(axis));
  }
  // Unequal sizes: the middle part only, combined with an input of its shape.
  Tensor w = random::uniform(Shape{6, 5, 12}, -1, 1, DType::Float32, 5);
  auto middle = [](const Tensor& v, const Tensor& u) {
    auto p = split(v, {2, 5, 2}, 1);
    return sigmoid(p[1]) * u + 1.f;
  };
  auto f = function(middle, fuse_all("split_middle"));
  auto got = f(x, w);
  EXPECT_EQ(count(f.graph_text(), "reads 1 split parts"), 1) << f.graph_text();
  expect_close({got}, {middle(x, w)}, 1e-6, "unequal split");
}

// A split whose parts something else also reads stays in the graph; the group still reads in place.
TEST(Fusion, SplitStaysWhenAnotherNodeReadsIt) {
  Tensor x = random::uniform(Shape{4, 10}, -1, 1, DType::Float32, 6);
  auto body = [](const Tensor& v) -> std::vector<Tensor> {
    auto p = split(v, 2, 1);
    return {exp(p[0]) + p[1] * 3.f, sum(p[1])};
  };
  auto f = function(body, fuse_all("split_shared"));
  auto got = f(x);
  EXPECT_EQ(count(f.graph_text(), "= Split"), 1) << f.graph_text();
  expect_close(got, body(x), 1e-6, "shared split");
}

// A concat made only of one group's members is written by the fused node (along any axis, a member twice);
// one with an outside part is left alone.
TEST(Fusion, ConcatOfGroupMembersIsWrittenInParts) {
  Tensor a = random::uniform(Shape{3, 5, 7}, -1, 1, DType::Float32, 7);
  Tensor b = random::uniform(Shape{3, 5, 7}, -1, 1, DType::Float32, 8);
  for (std::int64_t axis : {0, 1, 2, -2}) {
    auto body = [axis](const Tensor& u, const Tensor& v) {
      Tensor p = u * v, q = exp(u) - v;
      return concat({q, p, q}, axis);
    };
    auto f = function(body, fuse_all("concat_parts"));
    auto got = f(a, b);
    const std::string text = f.graph_text();
    EXPECT_EQ(count(text, "= Concat"), 0) << "axis " << axis << "\n" << text;
    EXPECT_EQ(count(text, "writes 3 concat parts"), 1) << "axis " << axis << "\n" << text;
    expect_close({got}, {body(a, b)}, 1e-6, "concat axis " + std::to_string(axis));
  }
  auto outside = [](const Tensor& u, const Tensor& v) { return concat({u * v + 1.f, v}, 1); };
  auto f = function(outside, fuse_all("concat_outside"));
  auto got = f(a, b);
  EXPECT_EQ(count(f.graph_text(), "= Concat"), 1) << f.graph_text();
  EXPECT_EQ(count(f.graph_text(), "concat parts"), 0) << f.graph_text();
  expect_close({got}, {outside(a, b)}, 1e-6, "concat with an outside part");
}

// Sibling groups that meet only at a concat (the gradients of the four gates) merge into one.
TEST(Fusion, SiblingGroupsMeetingAtAConcatMerge) {
  Tensor a = random::uniform(Shape{8, 6}, -1, 1, DType::Float32, 9);
  Tensor b = random::uniform(Shape{8, 6}, -1, 1, DType::Float32, 10);
  auto body = [](const Tensor& u, const Tensor& v) { return concat({exp(u) * 2.f, tanh(v) + 1.f}, 0); };
  auto f = function(body, fuse_all("siblings"));
  auto got = f(a, b);
  EXPECT_EQ(count(f.graph_text(), "= FusedElementwise"), 1) << f.graph_text();
  EXPECT_EQ(count(f.graph_text(), "writes 2 concat parts"), 1) << f.graph_text();
  expect_close({got}, {body(a, b)}, 1e-6, "siblings");
}

// Merging two producer groups must not create a cycle: exp(x) is read by a transpose that feeds the other
// group, so the fused node of {exp, mul} would need its own output. Only {tanh, mul} may merge.
TEST(Fusion, GroupsLinkedThroughAnOutsideNodeDoNotMerge) {
  Tensor x = random::uniform(Shape{9, 9}, -1, 1, DType::Float32, 11);
  auto body = [](const Tensor& v) {
    Tensor a = exp(v) * 0.5f;
    Tensor t = tanh(transpose(a, {1, 0})) + 0.25f;
    return a * t;
  };
  auto f = function(body, fuse_all("no_cycle"));
  auto got = f(x);
  EXPECT_EQ(count(f.graph_text(), "= FusedElementwise"), 2) << f.graph_text();
  expect_close({got}, {body(x)}, 1e-6, "no cycle");
}

// Float64 groups have no block kernels: they fuse as before, the split and concat stay as nodes.
TEST(Fusion, Float64GroupsKeepTheirSplitsAndConcats) {
  Tensor z = random::normal(Shape{6, 20}, 0, 1, DType::Float64, 12);
  Tensor c = random::normal(Shape{6, 5}, 0, 1, DType::Float64, 13);
  Tensor dh = random::normal(Shape{6, 5}, 0, 1, DType::Float64, 14);
  auto f = function(lstm_cell_grads, fuse_all("lstm_cell_f64"));
  auto got = f(z, c, dh);
  const std::string text = f.graph_text();
  EXPECT_GE(count(text, "= FusedElementwise"), 1) << text;
  EXPECT_EQ(count(text, "split parts"), 0) << text;
  EXPECT_EQ(count(text, "= Split"), 1) << text;
  EXPECT_EQ(count(text, "= Concat"), 1) << text;
  expect_close(got, lstm_cell_grads(z, c, dh), 1e-12, "float64 cell");
}

}  // namespace
}  // namespace duet
