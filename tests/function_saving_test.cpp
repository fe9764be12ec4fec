// Function::save / load_function: loaded graphs give the traced function's results (ops, variables, several
// signatures, cond, while_loop, registered host functions), keep their own variables, differentiate and
// inline into traces; what cannot be saved is refused by name; hostile function files are refused.
#include "test_util.h"

namespace duet {
namespace {

using testing::Scratch;

void expect_equal(const std::vector<Tensor>& got, const std::vector<Tensor>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].shape(), want[i].shape()) << what << " output " << i;
    ASSERT_EQ(got[i].dtype(), want[i].dtype()) << what << " output " << i;
    testing::expect_close(testing::to_arr(got[i]), testing::to_arr(want[i]), 1e-6, 1e-6,
                          what + " output " + std::to_string(i));
  }
}

TEST(FunctionFile, OpsVariablesAndSignaturesRoundTrip) {
  Scratch s;
  Variable w(random::normal({3, 4}, 0, 1, DType::Float32, 3), {.name = "w"});
  Variable calls(scalar(0.0), {.name = "calls", .trainable = false});
  auto f = function(
      [&](const Tensor& x, const Tensor& ids) {
        calls.assign_add(scalar(1.0));
        Tensor h = tanh(matmul(x, w.value())) + constant({1.f, 2.f, 3.f, 4.f});
        return std::vector<Tensor>{sum(h * h, {1}), gather(h, ids, 1)};
      },
      {.name = "f"});
  Tensor x2 = random::normal({2, 3}, 0, 1, DType::Float32, 4), x5 = random::normal({5, 3}, 0, 1, DType::Float32, 5);
  Tensor ids = constant(std::vector<std::int32_t>{3, 0}, Shape{2});
  std::vector<Tensor> want2 = f(x2, ids), want5 = f(x5, ids);
  ASSERT_EQ(f.trace_count(), 2);
  std::string p = s.path("f.duetfn");
  f.save(p);

  LoadedFunction g = load_function(p);
  EXPECT_EQ(g.name(), "f");
  ASSERT_EQ(g.signatures().size(), 2u);
  EXPECT_EQ(g.signatures()[1][0].shape, (Shape{5, 3}));
  expect_equal(g(x2, ids), want2, "signature (2, 3)");
  expect_equal(g(x5, ids), want5, "signature (5, 3)");
  // Its variables are its own copies, restored from the file: the loaded counter moves, the original not.
  ASSERT_EQ(g.variables().size(), 2u);
  EXPECT_EQ(calls.value().item<double>(), 2.0);
  Variable loaded_calls = g.variables()[0].name() == "calls" ? g.variables()[0] : g.variables()[1];
  EXPECT_EQ(loaded_calls.value().item<double>(), 4.0);  // saved at 2, then two calls
  EXPECT_EQ(calls.value().item<double>(), 2.0);
  EXPECT_FALSE(loaded_calls.trainable());
  // The compiled graph is the optimized one.
  EXPECT_NE(g.graph_text(0).find("MatMul"), std::string::npos) << g.graph_text(0);
  // No signature for these arguments: the message lists the saved ones.
  try {
    g(random::normal({2, 7}), ids);
    FAIL() << "accepted a (2, 7) argument";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("(5, 3)"), std::string::npos) << e.what();
  }
}

TEST(FunctionFile, ControlFlowAndUnknownDimsRoundTrip) {
  Scratch s;
  auto f = function(
      [](const Tensor& x, const Tensor& n) {
        Tensor y = cond(
            sum(x) > 0.f, [&] { return x * 2.f; }, [&] { return -x; });
        std::vector<Tensor> r = while_loop([&](const std::vector<Tensor>& v) { return v[0] < n; },
                                           [&](const std::vector<Tensor>& v) {
                                             return std::vector<Tensor>{v[0] + 1, v[1] * 0.5f + y};
                                           },
                                           {scalar(0), y}, {.maximum_iterations = 20});
        return std::vector<Tensor>{r[0], r[1]};
      },
      {.name = "loops",
       .input_signature =
           std::vector<TensorSpec>{{DType::Float32, Shape{Shape::kUnknown, 2}}, {DType::Int32, Shape{}}}});
  Tensor pos = constant(std::vector<float>{1.f, 2.f, 3.f, 4.f}, Shape{2, 2});
  Tensor neg = constant(std::vector<float>{-1.f, -2.f, -3.f, -4.f, -5.f, -6.f}, Shape{3, 2});
  std::vector<Tensor> a = f(pos, scalar(3)), b = f(neg, scalar(30));
  std::string p = s.path("loops.duetfn");
  f.save(p);
  LoadedFunction g = load_function(p);
  ASSERT_EQ(g.signatures().size(), 1u);
  EXPECT_EQ(g.signatures()[0][0].shape, (Shape{Shape::kUnknown, 2}));
  expect_equal(g(pos, scalar(3)), a, "then branch, 3 iterations");
  expect_equal(g(neg, scalar(30)), b, "else branch, maximum_iterations");
  EXPECT_EQ(g(neg, scalar(30))[0].item<std::int64_t>(), 20);
}

TEST(FunctionFile, LoadedFunctionsDifferentiateAndInlineIntoTraces) {
  Scratch s;
  Variable w(random::normal({3, 2}, 0, 1, DType::Float64, 7), {.name = "w"});
  auto body = [&](const Tensor& x) { return sigmoid(matmul(x, w.value())) * slice(x, {0, 0}, {4, 2}); };
  auto f = function(body);
  Tensor x = random::normal({4, 3}, 0, 1, DType::Float64, 8);
  Tensor want = f(x);
  f.save(s.path("g.duetfn"));
  LoadedFunction g = load_function(s.path("g.duetfn"));
  Variable lw = g.variables().at(0);
  auto grads = [&](auto&& fn, const Variable& v) {
    GradientTape tape;
    tape.watch(x);
    Tensor loss = sum(square(fn(x)));
    return tape.gradient(loss, {Source(x), Source(v)});
  };
  std::vector<Tensor> g_want = grads(body, w);  // eagerly
  std::vector<Tensor> g_got = grads([&](const Tensor& t) { return g(t)[0]; }, lw);
  expect_equal(g_got, g_want, "gradients through the loaded function");
  // Called from another traced function: the loaded graph inlines.
  auto outer = function([&](const Tensor& t) { return g(t * 2.0)[0] + 1.0; });
  expect_equal({outer(x)}, {f(x * 2.0) + 1.0}, "inlined into a trace");
}

TEST(FunctionFile, HostFunctionsAreSavedByRegisteredName) {
  Scratch s;
  register_host_function("test.clip_to_count", [](const std::vector<Tensor>& in) {
    std::vector<double> v = in[0].to_vector<double>();
    double n = 0;
    for (double e : v) n += e > 0 ? 1 : 0;
    return std::vector<Tensor>{full(Shape{}, n, DType::Float32)};
  });
  auto f = function([](const Tensor& x) {
    Tensor c = host_function("test.clip_to_count", {x}, {{DType::Float32, Shape{}}})[0];
    return x * c;
  });
  Tensor x = constant({1.f, -2.f, 3.f});
  Tensor want = f(x);
  EXPECT_EQ(want.to_vector<float>(), (std::vector<float>{2.f, -4.f, 6.f}));
  std::string p = s.path("h.duetfn");
  f.save(p);
  expect_equal(load_function(p)(x), {want}, "registered host function");

  // A graph that names a host function this program has not registered: refused at load, naming it.
  saving::TensorFile file = saving::load_safetensors(p);
  std::string& desc = file.metadata.at("function");
  desc.replace(desc.find("test.clip_to_count"), 18, "test.not_registered");
  saving::save_safetensors(s.path("h2.duetfn"), file.tensors, file.metadata);
  try {
    load_function(s.path("h2.duetfn"));
    FAIL() << "loaded a graph calling an unregistered host function";
  } catch (const IOError& e) {
    EXPECT_NE(std::string(e.what()).find("test.not_registered"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("register_host_function"), std::string::npos) << e.what();
  }

  // A host function built from a C++ callable cannot be saved: the refusal says what to do.
  auto anon = function([](const Tensor& t) {
    return host_function([](const std::vector<Tensor>& in) { return in; }, {t}, {{DType::Float32, Shape{3}}},
                         {.name = "inline_fn"})[0];
  });
  (void)anon(x);
  try {
    anon.save(s.path("anon.duetfn"));
    FAIL() << "saved a C++ callable";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("inline_fn"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("register_host_function"), std::string::npos) << e.what();
  }
  EXPECT_THROW(host_function("test.nothing_here", {x}, {{DType::Float32, Shape{3}}}), ValueError);
}

TEST(FunctionFile, WhatCannotBeSavedIsRefused) {
  Scratch s;
  auto never = function([](const Tensor& t) { return t + 1.f; }, {.name = "never_called"});
  try {
    never.save(s.path("n.duetfn"));
    FAIL() << "saved an untraced function";
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("never_called"), std::string::npos) << e.what();
  }
  // Two traces told apart only by a C++ double: a loaded function could not choose between them.
  auto scaled = function([](const Tensor& t, double k) { return t * static_cast<float>(k); }, {.name = "scaled"});
  (void)scaled(ones({2}), 0.5);
  (void)scaled(ones({2}), 0.25);
  try {
    scaled.save(s.path("d.duetfn"));
    FAIL() << "saved two traces with the same tensor inputs";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("0.25"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("as a tensor"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Scratch::read(s.path("d.duetfn")), "") << "a refused save writes nothing";
}

// Function files edited by hand: each is refused with a duet::Error naming the file, none crashes.
TEST(FunctionFile, HostileFunctionFilesAreRefused) {
  Scratch s;
  Variable v(constant({1.f, 2.f}), {.name = "v"});
  auto f = function(
      [&](const Tensor& x) {
        return cond(
            sum(x) > 0.f, [&] { return x * v.value(); }, [&] { return x; });
      },
      {.name = "h"});
  (void)f(ones({2}));
  std::string p = s.path("h.duetfn");
  f.save(p);
  saving::TensorFile good = saving::load_safetensors(p);
  const std::string desc = good.metadata.at("function");
  auto with_desc = [&](const std::string& name, const std::string& d) {
    auto meta = good.metadata;
    meta["function"] = d;
    saving::save_safetensors(s.path(name), good.tensors, meta);
    return s.path(name);
  };
  auto replaced = [&](const std::string& from, const std::string& to) { return testing::replace_once(desc, from, to); };
  std::string deep = R"({"name":"x","variables":[],"signatures":[{"graph":)";
  std::string tail;
  for (int i = 0; i < 40; ++i) {
    deep += R"({"inputs":[],"nodes":[{"op":"Cond","inputs":[],"outputs":[],"subgraphs":[)";
    tail = R"(,{"inputs":[],"nodes":[],"outputs":[]}]}],"outputs":[]})" + tail;
  }
  deep += R"({"inputs":[],"nodes":[],"outputs":[]})" + tail + "}]}";
  std::vector<std::pair<std::string, std::string>> cases = {
      {"not JSON", with_desc("a", "{")},
      {"no signatures", with_desc("b", R"({"name":"x","variables":[],"signatures":[]})")},
      {"unknown op", with_desc("c", replaced("\"Mul\"", "\"LaunchMissiles\""))},
      {"structural op", with_desc("d", replaced("\"Mul\"", "\"LayerCall\""))},
      {"forward edge (a cycle)", with_desc("e", replaced("\"inputs\":[[0,0]", "\"inputs\":[[99,0]"))},
      {"output index", with_desc("f", replaced("\"inputs\":[[0,0]", "\"inputs\":[[0,5]"))},
      {"variable index", with_desc("g", replaced("{\"variable\":0}", "{\"variable\":9}"))},
      {"bad dtype", with_desc("h", replaced("\"float32\"", "\"float128\""))},
      {"wrong input count", with_desc("i", replaced("[[1,0],[0,0]],\"op\":\"Mul\"", "[[1,0]],\"op\":\"Mul\""))},
      {"deep nesting", with_desc("j", deep)},
      {"missing constant", with_desc("k", replaced("\"constants/", "\"constants/9"))},
      {"huge dim", with_desc("l", replaced("\"shape\":[2]", "\"shape\":[1e300]"))},
  };
  {
    auto meta = good.metadata;
    meta["format"] = "duet.model";
    saving::save_safetensors(s.path("m"), good.tensors, meta);
    cases.emplace_back("wrong format", s.path("m"));
    meta = good.metadata;
    meta["format_version"] = "99";
    saving::save_safetensors(s.path("n"), good.tensors, meta);
    cases.emplace_back("future version", s.path("n"));
    saving::save_safetensors(s.path("o"), {}, good.metadata);
    cases.emplace_back("missing variable tensor", s.path("o"));
  }
  testing::expect_files_refused(cases, [](const std::string& q) { (void)load_function(q); });
}

// A saved graph's attrs reach an op without its public function's checks: a split's sizes and a
// SplitView's axis are checked where the op infers its outputs. (A SplitView with a negative size once ran,
// viewing memory before its input's buffer.)
TEST(FunctionFile, HostileSplitAttrsAreRefused) {
  Scratch s;
  auto f = function(
      [](const Tensor& x) {
        return split(x, std::vector<std::int64_t>{1, 3}, 0)[1] * 2.f;
      },
      {.name = "split"});
  (void)f(ones({4, 3}));
  const std::string p = s.path("split.duetfn");
  f.save(p);
  saving::TensorFile good = saving::load_safetensors(p);
  const std::string desc = good.metadata.at("function");
  auto with = [&](const std::string& name, std::vector<std::pair<std::string, std::string>> edits) {
    std::string d = desc;
    for (const auto& [from, to] : edits) d = testing::replace_once(d, from, to);
    auto meta = good.metadata;
    meta["function"] = d;
    saving::save_safetensors(s.path(name), good.tensors, meta);
    return s.path(name);
  };
  const std::pair<std::string, std::string> view{"\"op\":\"Split\"", "\"op\":\"SplitView\""};
  const std::pair<std::string, std::string> negative{"\"ints\":[1,3]", "\"ints\":[-1,5]"};
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"negative split size", with("a", {negative}), "split sizes must be >= 0, got [-1, 5]"},
      {"SplitView along axis 1", with("b", {view, {"{\"axis\":{\"int\":0}", "{\"axis\":{\"int\":1}"}}),
       "splits along axis 0 only, got axis 1"},
      {"negative SplitView size", with("c", {view, negative}), "split sizes must be >= 0, got [-1, 5]"},
  };
  for (const auto& [what, path, message] : cases) {
    try {
      (void)load_function(path);
      ADD_FAILURE() << what << ": accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << what << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << what << ": " << e.what();
    }
  }
  // The unedited file loads and runs.
  LoadedFunction g = load_function(p);
  EXPECT_EQ(g(std::vector<Tensor>{ones({4, 3})})[0].to_vector<float>(), std::vector<float>(9, 2.f));
}

}  // namespace
}  // namespace duet
