// Hostile inputs: every case must end in a clean duet::Error (a message naming the op, layer or file) or, for
// the command line, a distinct exit code with a message: never a crash, an abort, a hang, an allocation of
// what a header claims, or a silent wrong answer.
#include <unistd.h>
#include <zlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <climits>
#include <cstdio>
#include <fstream>
#include <map>

#include "test_util.h"

namespace duet {
namespace {

struct Case {
  std::string name;
  std::function<void()> fn;
};

// Runs every case; each must throw a duet::Error whose message starts with "[" (it names where).
void expect_clean_errors(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    try {
      c.fn();
      ADD_FAILURE() << c.name << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("[", 0), 0u) << c.name << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.name << ": a non-duet exception escaped: " << e.what();
    }
  }
}

constexpr std::int64_t kBig = std::int64_t{1} << 32;

std::vector<Case> api_cases() {
  Tensor m = ones({2, 3}), v = ones({3}), s = scalar(1.f), i = constant({1, 2, 3});
  return {
      {"zeros 2^32 x 2^32 (overflowing count)",
       [] {
         zeros({kBig, kBig});
       }},
      {"ones 3037000500^2 (overflowing count)",
       [] {
         ones({3037000500, 3037000500});
       }},
      {"uniform 2^62 floats", [] { random::uniform({std::int64_t{1} << 62}); }},
      {"normal 2^40 x 2^30",
       [] {
         random::normal({std::int64_t{1} << 40, std::int64_t{1} << 30});
       }},
      {"eye 2^40", [] { eye(std::int64_t{1} << 40); }},
      {"eye negative", [] { eye(-3); }},
      {"zeros negative dim", [] { zeros({-5}); }},
      {"full unknown dim",
       [] {
         full({Shape::kUnknown, 2}, 1.0);
       }},
      {"rank 20 shape", [] { zeros(Shape(std::vector<std::int64_t>(20, 1))); }},
      {"arange zero step", [] { arange(0.0, 10.0, 0.0); }},
      {"arange 1e18 elements", [] { arange(0.0, 1e18, 1.0); }},
      {"arange NaN", [] { arange(0.0, NAN, 1.0); }},
      {"linspace negative num", [] { linspace(0, 1, -4); }},
      {"linspace 2^62", [] { linspace(0, 1, std::int64_t{1} << 62); }},
      {"slice size INT64_MAX",
       [m] {
         slice(m, {0, 2}, {1, INT64_MAX});
       }},
      {"slice begin past end",
       [m] {
         slice(m, {3, 0}, {-1, -1});
       }},
      {"slice negative begin",
       [m] {
         slice(m, {-1, 0}, {1, 1});
       }},
      {"slice wrong rank", [m] { slice(m, {0}, {1}); }},
      {"slice size -2",
       [m] {
         slice(m, {0, 0}, {-2, 1});
       }},
      {"gather axis -3 on rank 2", [m] { gather(m, constant(std::vector<std::int64_t>{0}, Shape{1}), -3); }},
      {"gather axis 5", [m] { gather(m, constant(std::vector<std::int64_t>{0}, Shape{1}), 5); }},
      {"gather index out of range", [m] { gather(m, constant(std::vector<std::int64_t>{7}, Shape{1}), 0); }},
      {"gather negative index", [m] { gather(m, constant(std::vector<std::int64_t>{-1}, Shape{1}), 0); }},
      {"gather float indices", [m] { gather(m, ones({1}), 0); }},
      {"one_hot negative depth", [i] { one_hot(i, -1); }},
      {"one_hot 2^62 depth", [i] { one_hot(i, std::int64_t{1} << 62); }},
      {"one_hot float indices", [v] { one_hot(v, 3); }},
      {"reshape wrong count",
       [m] {
         reshape(m, {4, 2});
       }},
      {"reshape two -1",
       [m] {
         reshape(m, {-1, -1});
       }},
      {"reshape -2",
       [m] {
         reshape(m, {-2, 3});
       }},
      {"reshape huge",
       [m] {
         reshape(m, {kBig, kBig});
       }},
      {"flatten of dims whose product overflows",
       [] {
         (void)layers::Flatten()(Input({std::int64_t{1} << 40, std::int64_t{1} << 40}));
       }},
      {"transpose bad perm",
       [m] {
         transpose(m, {0, 0});
       }},
      {"transpose perm out of range",
       [m] {
         transpose(m, {0, 5});
       }},
      {"expand_dims axis 9", [m] { expand_dims(m, 9); }},
      {"squeeze non-1 axis", [m] { squeeze(m, {0}); }},
      {"squeeze axis out of range", [m] { squeeze(m, {4}); }},
      {"concat empty list", [] { concat({}, 0); }},
      {"concat mismatched",
       [m, v] {
         concat({m, v}, 0);
       }},
      {"concat axis out of range",
       [m] {
         concat({m, m}, 3);
       }},
      {"concat dtype mix",
       [m] {
         concat({m, cast(m, DType::Float64)}, 0);
       }},
      {"stack mismatched",
       [m, v] {
         stack({m, v});
       }},
      {"split uneven", [m] { split(m, 2, 1); }},
      {"split zero parts", [m] { split(m, 0, 1); }},
      {"split bad sizes",
       [m] {
         split(m, std::vector<std::int64_t>{1, 1}, 1);
       }},
      {"broadcast_to incompatible",
       [m] {
         broadcast_to(m, Shape{2, 4});
       }},
      {"broadcast_to fewer dims", [m] { broadcast_to(m, Shape{3}); }},
      {"add unbroadcastable", [m] { add(m, ones({4})); }},
      {"mul unbroadcastable",
       [m] {
         m* ones({2, 2});
       }},
      {"where non-bool cond", [m] { where(m, m, m); }},
      {"where unbroadcastable branches", [m] { where(m > 0, m, ones({4})); }},
      {"logical_and on floats", [m] { logical_and(m, m); }},
      {"exp of int", [i] { exp(i); }},
      {"sqrt of bool", [m] { sqrt(m > 0); }},
      {"int division by zero",
       [i] {
         i / constant({1, 0, 1});
       }},
      {"int division by zero, large fused group",
       [] {
         auto f = function([](const Tensor& a) { return (a / a) * 2 + 1; }, {.passes = {.fusion_min_elements = 1}});
         f(zeros({1 << 17}, DType::Int32));
       }},
      {"int pow negative exponent",
       [i] {
         pow(i, constant({-1, 1, 1}));
       }},
      {"int literal beyond int32", [i] { i + (std::int64_t{1} << 33); }},
      {"uint64 literal beyond int64",
       [] { constant(std::vector<std::int64_t>{1}, Shape{1}) + 18446744073709551615ULL; }},
      {"full beyond int32", [] { full({2}, 1e12, DType::Int32); }},
      {"cast to int from NaN is fine but full NaN int is not", [] { full({1}, NAN, DType::Int32); }},
      {"clip lo > hi", [m] { clip(m, 2, 1); }},
      {"sum axis out of range", [m] { sum(m, {2}); }},
      {"sum duplicate axes",
       [m] {
         sum(m, {0, 0, 5});
       }},
      {"argmax axis out of range", [m] { argmax(m, 7); }},
      {"max of empty", [] { max(zeros({0})); }},
      {"argmax of empty", [] { argmax(zeros({0})); }},
      {"matmul rank 1", [v] { matmul(v, v); }},
      {"matmul inner mismatch", [m] { matmul(m, m); }},
      {"matmul bool", [m] { matmul(m > 0, transpose(m > 0)); }},
      {"matmul batch mismatch",
       [] {
         matmul(ones({2, 2, 3}), ones({3, 3, 4}));
       }},
      {"conv2d rank 3",
       [] {
         conv2d(ones({4, 4, 1}), ones({2, 2, 1, 1}));
       }},
      {"conv2d channel mismatch",
       [] {
         conv2d(ones({1, 4, 4, 2}), ones({2, 2, 3, 1}));
       }},
      {"conv2d zero stride",
       [] {
         conv2d(ones({1, 4, 4, 1}), ones({2, 2, 1, 1}), {.strides = {0, 1}});
       }},
      {"conv2d bad padding",
       [] {
         conv2d(ones({1, 4, 4, 1}), ones({2, 2, 1, 1}), {.padding = "full"});
       }},
      {"conv2d kernel larger than input",
       [] {
         conv2d(ones({1, 2, 2, 1}), ones({3, 3, 1, 1}));
       }},
      {"conv2d one stride value",
       [] {
         conv2d(ones({1, 4, 4, 1}), ones({2, 2, 1, 1}), {.strides = {1}});
       }},
      {"conv2d huge dilation",
       [] {
         conv2d(ones({1, 4, 4, 1}), ones({2, 2, 1, 1}), {.dilation_rate = {INT64_MAX / 2, 1}});
       }},
      {"max_pool zero window",
       [] {
         max_pool2d(ones({1, 4, 4, 1}), {.pool_size = {0, 2}});
       }},
      {"max_pool rank 2", [m] { max_pool2d(m); }},
      {"avg_pool window larger than input",
       [] {
         avg_pool2d(ones({1, 2, 2, 1}), {.pool_size = {3, 3}});
       }},
      {"softmax axis out of range", [m] { softmax(m, 5); }},
      {"softmax of int", [i] { softmax(i); }},
      {"sparse ce label shape", [m] { sparse_softmax_cross_entropy_with_logits(constant({1}), m); }},
      {"sparse ce label out of range",
       [m] {
         sparse_softmax_cross_entropy_with_logits(constant({0, 5}), m);
       }},
      {"sparse ce float labels", [m] { sparse_softmax_cross_entropy_with_logits(ones({2}), m); }},
      {"dense ce shape mismatch",
       [m] {
         softmax_cross_entropy_with_logits(ones({2, 2}), m);
       }},
      {"bias_add wrong bias", [m] { bias_add(m, ones({2})); }},
      {"dropout rate 1", [m] { dropout(m, 1.0); }},
      {"dropout rate NaN", [m] { dropout(m, NAN); }},
      {"dropout runtime rate 2", [m] { dropout(m, scalar(2.0), true); }},
      {"undefined tensor to op", [] { exp(Tensor()); }},
      {"undefined tensor item", [] { Tensor().item<float>(); }},
      {"item of many", [m] { m.item<float>(); }},
      {"data with wrong type", [m] { m.data<double>(); }},
      {"bool of many", [m] { static_cast<void>(static_cast<bool>(m)); }},
      {"constant value count",
       [] {
         constant(std::vector<float>{1, 2, 3}, Shape{2, 2});
       }},
      {"constant ragged",
       [] {
         constant({{1.f, 2.f}, {3.f}});
       }},
      {"variable shape change",
       [] {
         Variable w(ones({2}));
         w.assign(ones({3}));
       }},
      {"variable dtype change",
       [] {
         Variable w(ones({2}));
         w.assign(ones({2}, DType::Float64));
       }},
      {"empty variable read", [] { Variable().value(); }},
      {"gradient twice on a tape",
       [] {
         Tensor x = scalar(1.f);
         GradientTape t;
         t.watch(x);
         Tensor y = x * x;
         t.gradient(y, x);
         t.gradient(y, x);
       }},
      {"gradient of int target",
       [] {
         GradientTape t;
         t.gradient(constant({1}), scalar(1.f));
       }},
      {"watch int tensor",
       [i] {
         GradientTape t;
         t.watch(i);
       }},
      {"cond vector predicate",
       [m] {
         cond(
             m > 0, [&] { return m; }, [&] { return m; });
       }},
      {"while shape change (eager)",
       [] {
         while_loop([](const std::vector<Tensor>& v) { return sum(v[0]) < 10.f; },
                    [](const std::vector<Tensor>& v) {
                      return std::vector<Tensor>{concat({v[0], v[0]}, 0)};
                    },
                    {ones({1})});
       }},
      {"while shape change (traced)",
       [] {
         auto f = function([](const Tensor& x) {
           return while_loop([](const std::vector<Tensor>& v) { return sum(v[0]) < 10.f; },
                             [](const std::vector<Tensor>& v) {
                               return std::vector<Tensor>{concat({v[0], v[0]}, 0)};
                             },
                             {x})[0];
         });
         f(ones({1}));
       }},
      {"function input_signature mismatch",
       [] {
         auto f = function([](const Tensor& x) { return x; },
                           {.input_signature = std::vector<TensorSpec>{{DType::Float32, {3}}}});
         f(ones({4}));
       }},
      {"function max_traces 0", [] { function([](const Tensor& x) { return x; }, {.max_traces = 0})(ones({1})); }},
      {"strict retrace",
       [] {
         auto f = function([](const Tensor& x) { return x; }, {.strict = true});
         f(ones({1}));
         f(ones({2}));
       }},
      {"host_function wrong output dtype",
       [] {
         host_function([](const std::vector<Tensor>&) { return std::vector<Tensor>{constant({1})}; }, {},
                       {TensorSpec{DType::Int64, Shape{1}}});
       }},
      {"host_function throws std exception",
       [] {
         host_function([](const std::vector<Tensor>&) -> std::vector<Tensor> { throw std::runtime_error("user bug"); },
                       {ones({1})}, {TensorSpec{DType::Float32, Shape{1}}},
                       {.gradient = [](auto&, auto&, auto&) { return std::vector<Tensor>{}; }});
       }},
      {"check_numerics NaN",
       [] {
         check_numerics(constant({1.f, NAN}), "after layer 3");
       }},
      {"read_idx directory", [] { data::read_idx("/tmp"); }},
      {"read_idx missing", [] { data::read_idx("/nonexistent/file.idx"); }},
      {"fashion mnist missing dir", [] { data::load_fashion_mnist("/nonexistent"); }},
      {"apply_adam aliased slots",
       [] {
         Variable w(ones({2})), m(zeros({2}));
         apply_adam(w, m, m, ones({2}), scalar(0.1f), 0.9, 0.999, 1e-7);
       }},
      {"apply_adam beta 1",
       [] {
         Variable w(ones({2})), m(zeros({2})), v(zeros({2}));
         apply_adam(w, m, v, ones({2}), scalar(0.1f), 1.0, 0.999, 1e-7);
       }},
  };
}

std::vector<Case> model_cases() {
  auto model = [] {
    auto m = std::make_shared<Sequential>(std::vector<LayerRef>{layers::Dense(2)});
    m->compile({.optimizer = "sgd", .loss = "mse"});
    return m;
  };
  Tensor x = ones({4, 3}), y = ones({4, 2});
  return {
      {"Dense units 0", [] { layers::Dense(0); }},
      {"Dense on a rank-1 input", [] { layers::Dense(2)(ones({3})); }},
      {"Conv2D bad kernel",
       [] {
         layers::Conv2D(2, {0, 3});
       }},
      {"Conv2D on rank 2",
       [] {
         layers::Conv2D(2, {3, 3})(ones({4, 4}));
       }},
      {"Dropout rate 1.5", [] { layers::Dropout(1.5); }},
      {"Dropout rate set to -1", [] { layers::Dropout(0.5)->rate = -1; }},
      {"Reshape two -1",
       [] {
         layers::Reshape({-1, -1});
       }},
      {"Embedding zero dims", [] { layers::Embedding(0, 3); }},
      {"LSTM on rank 2",
       [] {
         layers::LSTM(4)(ones({2, 3}));
       }},
      {"BatchNormalization epsilon 0", [] { layers::BatchNormalization({.epsilon = 0}); }},
      {"Lambda undefined output", [] { layers::Lambda([](const Tensor&) { return Tensor(); })(ones({1})); }},
      {"unknown activation", [] { layers::Dense(2, "swishy"); }},
      {"unknown initializer", [] { layers::Dense(2, {.kernel_initializer = "magic"}); }},
      {"unknown optimizer", [] { optimizers::get("adagradz"); }},
      {"unknown loss", [] { losses::get("hinge_z"); }},
      {"unknown metric", [] { metrics::get("f17"); }},
      {"learning rate inf", [] { optimizers::Adam(INFINITY); }},
      {"learning rate negative", [] { optimizers::SGD(-1); }},
      {"momentum 1", [] { optimizers::SGD(0.1, 1.0); }},
      {"beta_1 set to 2", [] { *optimizers::Adam()->hyperparameters()[0].second = 2; }},
      {"schedule empty boundaries mismatch",
       [] {
         optimizers::schedules::PiecewiseConstantDecay({1, 2}, {0.1});
       }},
      {"schedule decay_steps 0", [] { optimizers::schedules::ExponentialDecay(0.1, 0, 0.5); }},
      {"fit before compile", [x, y] { Sequential({layers::Dense(2)}).fit(x, y); }},
      {"fit batch_size 0", [=] { model()->fit(x, y, {.batch_size = 0, .verbose = 0}); }},
      {"fit epochs -1", [=] { model()->fit(x, y, {.epochs = -1, .verbose = 0}); }},
      {"fit validation_split -0.5", [=] { model()->fit(x, y, {.validation_split = -0.5, .verbose = 0}); }},
      {"fit validation_split 1", [=] { model()->fit(x, y, {.validation_split = 1.0, .verbose = 0}); }},
      {"fit validation_split NaN", [=] { model()->fit(x, y, {.validation_split = NAN, .verbose = 0}); }},
      {"fit mismatched examples",
       [=] {
         model()->fit(x, ones({3, 2}), {.verbose = 0});
       }},
      {"fit zero examples",
       [=] {
         model()->fit(zeros({0, 3}), zeros({0, 2}), {.verbose = 0});
       }},
      {"fit scalar x", [=] { model()->fit(scalar(1.f), y, {.verbose = 0}); }},
      {"fit wrong feature count",
       [=] {
         auto m = model();
         m->fit(x, y, {.verbose = 0});
         m->fit(ones({4, 5}), y, {.verbose = 0});
       }},
      {"fit wrong label shape",
       [=] {
         model()->fit(x, ones({4, 3}), {.verbose = 0});
       }},
      {"fit verbose 7", [=] { model()->fit(x, y, {.verbose = 7}); }},
      {"fit initial_epoch past epochs", [=] { model()->fit(x, y, {.epochs = 1, .verbose = 0, .initial_epoch = 3}); }},
      {"fit two label tensors for one output",
       [=] {
         model()->fit({x}, {y, y}, {.verbose = 0});
       }},
      {"evaluate batch 0", [=] { model()->evaluate(x, y, {.batch_size = 0}); }},
      {"predict symbolic", [=] { model()->predict(Input({3})); }},
      {"predict undefined", [=] { model()->predict(Tensor()); }},
      {"compile losses count",
       [] {
         Sequential({layers::Dense(2)}).compile({.optimizer = "sgd", .losses = {"mse", "mae"}});
       }},
      {"compile loss and losses",
       [] { Sequential({layers::Dense(2)}).compile({.optimizer = "sgd", .loss = "mse", .losses = {"mae"}}); }},
      {"compile loss_weights NaN",
       [] { Sequential({layers::Dense(2)}).compile({.optimizer = "sgd", .loss = "mse", .loss_weights = {NAN}}); }},
      {"EarlyStopping missing metric",
       [=] {
         model()->fit(x, y,
                      {.epochs = 2, .verbose = 0, .callbacks = {callbacks::EarlyStopping({.monitor = "val_acc"})}});
       }},
      {"ReduceLROnPlateau factor 2", [] { callbacks::ReduceLROnPlateau({.factor = 2}); }},
      {"functional input not Input", [] { Model(ones({1}), ones({1})); }},
      {"functional missing Input",
       [] {
         Tensor a = Input({2}), b = Input({2});
         Model(a, layers::Add()({a, b})[0]);
       }},
      {"Sequential empty call",
       [] {
         Sequential()(ones({1, 2}));
       }},
      {"Sequential wrong input",
       [] {
         Sequential(Input({3}), {layers::Dense(2)})(ones({1, 4}));
       }},
      {"add_weight unknown dim",
       [] {
         struct L : Layer {
           L() : Layer("L") { add_weight("w", Shape{Shape::kUnknown}); }
         };
         L l;
       }},
  };
}

using testing::Scratch;

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string idx(std::vector<std::uint32_t> dims, std::size_t data_bytes, char type = 0x08) {
  std::string s{'\0', '\0', type, static_cast<char>(dims.size())};
  for (auto d : dims) s += be32(d);
  return s + std::string(data_bytes, '\x07');
}

std::vector<Case> idx_cases(const Scratch& dir) {
  std::vector<Case> c;
  const std::string good = idx({3, 4, 5}, 60);  // a valid 3x4x5 file
  EXPECT_NO_THROW(data::read_idx(dir.write("good", good)));
  // Truncated at every header boundary and inside the data.
  for (std::size_t cut : {0, 1, 2, 3, 4, 5, 7, 8, 11, 12, 15, 16, 17, 40, 75}) {
    std::string p = dir.write("cut" + std::to_string(cut), good.substr(0, cut));
    c.push_back({"truncated at byte " + std::to_string(cut), [p] { data::read_idx(p); }});
    std::string g = dir.write_gz("cut" + std::to_string(cut) + ".gz", good.substr(0, cut));
    c.push_back({"gzip, truncated at byte " + std::to_string(cut), [g] { data::read_idx(g); }});
  }
  // Headers claiming more than the file holds: no allocation of the claim.
  std::vector<std::vector<std::uint32_t>> claims = {{20, 5581, 8681, 49477, 384773}, {0xffffffffu},
                                                    {0x80000000u, 28, 28},           {65536, 65536, 65536},
                                                    {1u << 31, 1u << 31, 4},         {100000}};
  for (std::size_t k = 0; k < claims.size(); ++k) {
    std::string p = dir.write("claim" + std::to_string(k), idx(claims[k], 100));
    c.push_back({"claims dims " + Shape(std::vector<std::int64_t>(claims[k].begin(), claims[k].end())).str(),
                 [p] { data::read_idx(p); }});
    std::string g = dir.write_gz("claim" + std::to_string(k) + ".gz", idx(claims[k], 100));
    c.push_back({"gzip, claims dims (case " + std::to_string(k) + ")", [g] { data::read_idx(g); }});
  }
  // Wrong magic, type codes, dim counts.
  for (char type : {'\x09', '\x0b', '\x0c', '\x0d', '\x0e', '\x00', '\x07'}) {
    std::string p = dir.write("type" + std::to_string(type), idx({4}, 4, type));
    c.push_back({"type code " + std::to_string(type), [p] { data::read_idx(p); }});
  }
  for (const std::string& head :
       {std::string("\x01\x00\x08\x01", 4), std::string("\x00\x01\x08\x01", 4), std::string("\x00\x00\x08\x00", 4),
        std::string("\x00\x00\x08\x09", 4), std::string("\x00\x00\x08\xff", 4), std::string("PK\x03\x04", 4)}) {
    std::string p = dir.write("magic" + std::to_string(c.size()), head + be32(1) + "x");
    c.push_back({"magic bytes case " + std::to_string(c.size()), [p] { data::read_idx(p); }});
  }
  // Corrupt gzip streams: bytes flipped after the header, and garbage with a gzip signature.
  std::string gz = dir.write_gz("ok.gz", good);
  std::ifstream in(gz, std::ios::binary);
  std::string zipped((std::istreambuf_iterator<char>(in)), {});
  for (std::size_t at : {10, 14, 20, 30}) {
    if (at >= zipped.size()) continue;
    std::string bad = zipped;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    std::string p = dir.write("flip" + std::to_string(at) + ".gz", bad);
    c.push_back({"gzip byte " + std::to_string(at) + " flipped", [p] {
                   Tensor t = data::read_idx(p);
                   if (t.num_elements() == 60) throw IOError("[test] the corruption went unnoticed by zlib's CRC");
                 }});
  }
  std::string junk = dir.write("junk.gz", std::string("\x1f\x8b\x08\x00garbage garbage garbage", 27));
  c.push_back({"gzip signature then garbage", [junk] { data::read_idx(junk); }});
  std::string empty = dir.write("empty", "");
  c.push_back({"empty file", [empty] { data::read_idx(empty); }});
  std::string fifo = dir.dir + "/fifo";
  mkfifo(fifo.c_str(), 0600);
  c.push_back({"a FIFO (would block forever)", [fifo] { data::read_idx(fifo); }});
  c.push_back({"a directory", [&dir] { data::read_idx(dir.dir); }});
  // Fashion-MNIST sets that disagree.
  auto fm = [&](const std::string& sub, std::uint32_t train_images, std::uint32_t train_labels, std::uint32_t rows,
                std::uint8_t label) {
    std::string d = dir.dir + "/" + sub;
    mkdir(d.c_str(), 0700);
    auto put = [&](const char* n, std::string bytes) { dir.write_gz(sub + "/" + n, std::move(bytes)); };
    put("train-images-idx3-ubyte.gz", idx({train_images, rows, 28}, std::size_t{train_images} * rows * 28));
    put("train-labels-idx1-ubyte.gz", idx({train_labels}, 0) + std::string(train_labels, static_cast<char>(label)));
    put("t10k-images-idx3-ubyte.gz", idx({2, 28, 28}, 2 * 28 * 28));
    put("t10k-labels-idx1-ubyte.gz", idx({2}, 0) + std::string(2, '\x01'));
    return d;
  };
  std::string counts = fm("counts", 3, 4, 28, 1), shape = fm("shape", 3, 3, 27, 1), labels = fm("labels", 3, 3, 28, 12),
              none = fm("none", 0, 0, 28, 1);
  c.push_back({"fashion-mnist image/label counts differ", [counts] { data::load_fashion_mnist(counts); }});
  c.push_back({"fashion-mnist images not 28x28", [shape] { data::load_fashion_mnist(shape); }});
  c.push_back({"fashion-mnist label above 9", [labels] { data::load_fashion_mnist(labels); }});
  c.push_back({"fashion-mnist 0 images", [none] { data::load_fashion_mnist(none); }});
  return c;
}

TEST(Hostile, PublicApi) {
  auto cases = api_cases();
  expect_clean_errors(cases);
  RecordProperty("cases", static_cast<int>(cases.size()));
}

TEST(Hostile, LayersModelsAndTraining) {
  config::set_log_handler([](config::LogLevel, const std::string&) {});
  expect_clean_errors(model_cases());
  config::set_log_handler(nullptr);
}

TEST(Hostile, IdxFiles) {
  Scratch dir;
  expect_clean_errors(idx_cases(dir));
}

// The command line: usage errors exit 2, runtime errors 1, each with a message; never a signal.
struct CliResult {
  int code;
  std::string err;
};
CliResult run_cli(const std::string& args) {
  std::string cmd = std::string(DUET_CLI) + " " + args + " 2>&1 >/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

TEST(Hostile, CommandLine) {
  Scratch dir;
  const std::string bad_data = "--data-dir " + dir.dir + " --epochs 1";
  std::vector<std::pair<std::string, int>> cases = {
      {"", 2},
      {"frobnicate", 2},
      {"train", 2},
      {"train mnist-digits", 2},
      {"train fashion-mnist --model resnet", 2},
      {"train fashion-mnist --epochs 4294967296", 2},
      {"train fashion-mnist --epochs 0", 2},
      {"train fashion-mnist --epochs -1", 2},
      {"train fashion-mnist --epochs 1.5", 2},
      {"train fashion-mnist --epochs 12abc", 2},
      {"train fashion-mnist --epochs ''", 2},
      {"train fashion-mnist --batch-size 9223372036854775807", 2},
      {"train fashion-mnist --batch-size 99999999999999999999", 2},
      {"train fashion-mnist --batch-size 0", 2},
      {"train fashion-mnist --learning-rate inf", 2},
      {"train fashion-mnist --learning-rate nan", 2},
      {"train fashion-mnist --learning-rate -0.1", 2},
      {"train fashion-mnist --learning-rate 1e999", 2},
      {"train fashion-mnist --seed -4", 2},
      {"train fashion-mnist --steps -1", 2},
      {"train fashion-mnist --mode turbo", 2},
      {"train fashion-mnist --epochs", 2},
      {"train fashion-mnist --quiet --bogus", 2},
      {"demo --epochs 0", 2},
      {"demo --steps 0", 2},
      {"train fashion-mnist " + bad_data, 1},
      {"train fashion-mnist --data-dir /nonexistent --epochs 1", 1},
      {"demo --data-dir /dev/null", 1},
      {"train fashion-mnist --checkpoint-every 5", 2},
      {"train fashion-mnist --checkpoint-dir x --checkpoint-every 0", 2},
      {"train fashion-mnist --save ''", 2},
      {"evaluate", 2},
      {"evaluate --batch-size 3", 2},
      {"evaluate " + dir.path("missing.duet"), 1},
      {"evaluate " + dir.dir, 1},
      {"evaluate /dev/null", 1},
      {"evaluate " + dir.write("junk.duet", std::string(100, 'x')), 1},
      {"evaluate m.duet --bogus 1", 2},
      {"predict " + dir.path("missing.duet"), 2},
      {"predict " + dir.path("missing.duet") + " --images x", 1},
      {"info", 2},
      {"info " + dir.path("missing.duet"), 1},
      {"info a b", 2},
  };
  for (const auto& [args, want] : cases) {
    CliResult r = run_cli(args);
    EXPECT_EQ(r.code, want) << "duet " << args << "\n" << r.err;
    EXPECT_NE(r.err.find("duet:"), std::string::npos) << "duet " << args << " printed no message: " << r.err;
  }
}

}  // namespace
}  // namespace duet
