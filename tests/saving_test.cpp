// safetensors files and Model::save_weights / load_weights: round trips, the byte layout other readers rely on,
// mismatch reports, atomic writes, and hostile files (truncated, bit-flipped, hand-crafted).
#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "test_util.h"

namespace duet {
namespace {

using testing::Scratch;

std::uint64_t le64(const std::string& s, std::size_t at = 0) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return n;
}
std::string le64_bytes(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
  return s;
}
// A file from a header text and a data section.
std::string st_file(const std::string& header, const std::string& data) {
  return le64_bytes(header.size()) + header + data;
}

void expect_same(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.dtype(), b.dtype()) << what;
  ASSERT_EQ(a.shape(), b.shape()) << what;
  EXPECT_EQ(a.to_vector<double>(), b.to_vector<double>()) << what;
}

TEST(Safetensors, RoundTripsEveryDtypeAndShape) {
  Scratch s;
  saving::NamedTensors ts = {
      {"f32", random::normal({3, 4}, 0, 1, DType::Float32, 1)},
      {"f64", random::normal({2, 1, 5}, 0, 1, DType::Float64, 2)},
      {"i32", constant({-1, 0, 7, INT32_MIN, INT32_MAX})},
      {"i64", constant(std::vector<std::int64_t>{INT64_MIN, -3, INT64_MAX}, Shape{3})},
      {"b", constant(std::vector<bool>{true, false, true}, Shape{3})},
      {"scalar", scalar(2.5f)},
      {"empty", zeros({0, 3})},
      {"layer/with/slashes", ones({2})},
  };
  std::string p = s.path("t.safetensors");
  saving::save_safetensors(p, ts, {{"format", "test"}, {"who", "duet"}});
  saving::TensorFile f = saving::load_safetensors(p);
  ASSERT_EQ(f.tensors.size(), ts.size());
  for (std::size_t i = 0; i < ts.size(); ++i) {
    EXPECT_EQ(f.tensors[i].first, ts[i].first) << "order is the file's offset order, which is the save order";
    expect_same(f.tensors[i].second, ts[i].second, ts[i].first);
  }
  EXPECT_EQ(f.metadata.at("who"), "duet");
  ASSERT_NE(f.find("scalar"), nullptr);
  EXPECT_EQ(f.find("scalar")->rank(), 0);
  EXPECT_EQ(f.find("missing"), nullptr);
}

TEST(Safetensors, ByteLayoutIsTheStandardOne) {
  Scratch s;
  std::string p = s.path("t.safetensors");
  saving::save_safetensors(p, {{"a", constant({1.f, 2.f})}, {"b", constant({3, 4, 5})}});
  std::string bytes = Scratch::read(p);
  std::uint64_t n = le64(bytes);
  ASSERT_LE(8 + n, bytes.size());
  EXPECT_EQ(n % 8, 0u) << "the data section starts 8-byte aligned";
  std::string header = bytes.substr(8, n);
  EXPECT_NE(header.find(R"("a":{"data_offsets":[0,8],"dtype":"F32","shape":[2]})"), std::string::npos) << header;
  EXPECT_NE(header.find(R"("b":{"data_offsets":[8,20],"dtype":"I32","shape":[3]})"), std::string::npos) << header;
  ASSERT_EQ(bytes.size(), 8 + n + 20);
  float a[2];
  std::memcpy(a, bytes.data() + 8 + n, 8);
  EXPECT_EQ(a[0], 1.f);
  EXPECT_EQ(a[1], 2.f);
}

TEST(Safetensors, RefusesWhatItCannotWrite) {
  Scratch s;
  std::string p = s.path("t.safetensors");
  EXPECT_THROW(saving::save_safetensors(p, {{"a", ones({1})}, {"a", ones({1})}}), ValueError);
  EXPECT_THROW(saving::save_safetensors(p, {{"", ones({1})}}), ValueError);
  EXPECT_THROW(saving::save_safetensors(p, {{"__metadata__", ones({1})}}), ValueError);
  EXPECT_THROW(saving::save_safetensors(p, {{"a", Tensor()}}), ValueError);
  EXPECT_THROW(saving::save_safetensors("/nonexistent_dir/x.safetensors", {{"a", ones({1})}}), IOError);
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') out.emplace_back(e->d_name);
    closedir(d);
  }
  return out;
}

TEST(Safetensors, AFailedWriteLeavesTheOldFileAndNoTemporaries) {
  Scratch s;
  std::string p = s.path("w.safetensors");
  saving::save_safetensors(p, {{"a", constant({1.f})}});
  std::string before = Scratch::read(p);
  EXPECT_THROW(saving::write_file_atomically(p,
                                             [](std::FILE* f) {
                                               std::fputs("partial", f);
                                               throw IOError("simulated failure in the middle of a write");
                                             }),
               IOError);
  EXPECT_EQ(Scratch::read(p), before);
  EXPECT_EQ(files_in(s.dir), std::vector<std::string>{"w.safetensors"});
  // A successful rewrite replaces it whole.
  saving::save_safetensors(p, {{"a", constant({2.f, 3.f})}});
  EXPECT_EQ(saving::load_safetensors(p).tensors[0].second.to_vector<float>(), (std::vector<float>{2.f, 3.f}));
  EXPECT_EQ(files_in(s.dir).size(), 1u);
}

// Every hostile file is an IOError naming the file; none crashes, hangs or allocates what it claims.
TEST(Safetensors, HostileFilesGiveIOErrors) {
  Scratch s;
  const std::string good_header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data8(8, '\0');
  std::vector<std::pair<std::string, std::string>> cases = {
      {"empty file", ""},
      {"short length", "abc"},
      {"huge header length", le64_bytes(1ull << 62) + "{}"},
      {"header length past the end", le64_bytes(100) + "{}"},
      {"header over the limit", le64_bytes(saving::kMaxHeaderBytes + 1)},
      {"not JSON", st_file("{nope", "")},
      {"JSON array", st_file("[1,2]", "")},
      {"truncated JSON", st_file(good_header.substr(0, 20), data8)},
      {"unknown dtype", st_file(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", "1234")},
      {"dtype not a string", st_file(R"({"a":{"dtype":3,"shape":[2],"data_offsets":[0,8]}})", data8)},
      {"negative dim", st_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8)},
      {"fractional dim", st_file(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", data8)},
      {"rank 17", st_file(R"({"a":{"dtype":"BOOL","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})",
                          std::string(1, '\0'))},
      {"overflowing shape",
       st_file(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", data8)},
      {"shape vs offsets", st_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8)},
      {"offsets past the data", st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", data8)},
      {"offsets reversed", st_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data8)},
      {"offsets not integers", st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":["0","8"]}})", data8)},
      {"one offset", st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", data8)},
      {"huge offsets", st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,0]}})", data8)},
      {"overlap",
       st_file(
           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
           data8)},
      {"gap", st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8)},
      {"trailing bytes", st_file(good_header, data8 + "xx")},
      {"truncated data", st_file(good_header, "1234")},
      {"unknown field", st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", data8)},
      {"entry not an object", st_file(R"({"a":[1,2]})", "")},
      {"metadata not strings", st_file(R"({"__metadata__":{"k":1}})", "")},
      {"metadata not an object", st_file(R"({"__metadata__":[]})", "")},
      {"empty name", st_file(R"({"":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data8)},
      {"bool byte 2", st_file(R"({"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", std::string(1, '\2'))},
      {"deep nesting", st_file(std::string(100000, '[') + std::string(100000, ']'), "")},
      {"deep nesting in metadata", st_file(R"({"__metadata__":)" + std::string(50000, '[') + "}", "")},
  };
  for (const auto& [what, bytes] : cases) {
    std::string p = s.write("h.safetensors", bytes);
    try {
      saving::load_safetensors(p);
      ADD_FAILURE() << what << ": accepted";
    } catch (const IOError& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << what << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": not an IOError: " << e.what();
    }
  }
  EXPECT_THROW(saving::load_safetensors(s.dir), IOError);  // a directory
  EXPECT_THROW(saving::load_safetensors(s.path("missing")), IOError);
}

// Every truncation and every single-bit flip of a real file either loads or throws a duet::Error.
TEST(Safetensors, EveryTruncationAndBitFlipIsHandled) {
  Scratch s;
  std::string p = s.path("real.safetensors");
  saving::save_safetensors(p, {{"w", constant({1.f, 2.f, 3.f})}, {"b", constant(std::vector<bool>{true}, Shape{1})}},
                           {{"format_version", "1"}});
  const std::string bytes = Scratch::read(p);
  int loaded = 0, refused = 0;
  auto attempt = [&](const std::string& b) {
    std::string q = s.write("x.safetensors", b);
    try {
      saving::load_safetensors(q);
      ++loaded;
    } catch (const Error&) {
      ++refused;
    }
  };
  for (std::size_t n = 0; n < bytes.size(); ++n) attempt(bytes.substr(0, n));
  EXPECT_EQ(loaded, 0) << "a truncated file was accepted";
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string b = bytes;
      b[i] = static_cast<char>(b[i] ^ (1 << bit));
      attempt(b);
    }
  }
  EXPECT_GT(refused, static_cast<int>(bytes.size()));  // most flips in the header are caught
}

Sequential small_model() { return Sequential(Input({4}), {layers::Dense(8, "relu"), layers::Dense(3)}); }

TEST(SaveWeights, ATrainedModelRoundTripsBitwiseIntoAFreshOne) {
  Scratch s;
  Sequential a = small_model();
  a.compile({.optimizer = "adam", .loss = "mse"});
  Tensor x = random::normal({64, 4}, 0, 1, DType::Float32, 3), y = random::normal({64, 3}, 0, 1, DType::Float32, 4);
  a.fit(x, y, {.epochs = 2, .batch_size = 16, .verbose = 0});
  std::string p = s.path("w.safetensors");
  a.save_weights(p);
  saving::TensorFile f = saving::load_safetensors(p);
  ASSERT_EQ(f.tensors.size(), 4u);
  EXPECT_EQ(f.metadata.at("format"), "duet.weights");
  EXPECT_EQ(f.metadata.at("model"), a.name());
  EXPECT_EQ(f.tensors[0].first, a.weights()[0].name());  // "dense_N/kernel"
  EXPECT_NE(f.tensors[0].first.find("/kernel"), std::string::npos);

  Sequential b = small_model();  // its layers have other names (dense_2, dense_3): weights match by order
  EXPECT_NE(b.weights()[0].name(), a.weights()[0].name());
  b.load_weights(p);
  expect_same(b.predict(x), a.predict(x), "predictions after load_weights");
}

TEST(SaveWeights, MismatchesAreListedAndNothingIsAssigned) {
  Scratch s;
  Sequential a = small_model();
  std::string p = s.path("w.safetensors");
  a.save_weights(p);
  Sequential wider(Input({4}), {layers::Dense(9, "relu"), layers::Dense(3)});
  Tensor before = wider.weights()[3].value();
  try {
    wider.load_weights(p);
    FAIL() << "a different architecture loaded";
  } catch (const ValueError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("float32 (4, 9)"), std::string::npos) << m;
    EXPECT_NE(m.find("float32 (4, 8)"), std::string::npos) << m;
    EXPECT_NE(m.find("weight 1"), std::string::npos) << m;
    EXPECT_NE(m.find("Nothing was loaded"), std::string::npos) << m;
  }
  expect_same(wider.weights()[3].value(), before, "the last weight, which matched, was not assigned either");
  // skip_mismatch loads what fits (the last bias) and skips the rest.
  wider.load_weights(p, {.skip_mismatch = true});
  expect_same(wider.weights()[3].value(), a.weights()[3].value(), "the matching bias");
  // Fewer weights in the model than in the file.
  Sequential one(Input({4}), {layers::Dense(8, "relu")});
  EXPECT_THROW(one.load_weights(p), ValueError);
}

TEST(SaveWeights, ByNameLoadsSharedLayersIntoADifferentModel) {
  Scratch s;
  Tensor in = Input({4});
  auto shared = layers::Dense(8, {.activation = "relu", .name = "trunk"});
  Model a(in, layers::Dense(3, {.name = "head_a"})(shared(in)));
  std::string p = s.path("w.safetensors");
  a.save_weights(p);
  // A new model reusing the name "trunk" (another process would build it so) and a new head.
  Tensor in2 = Input({4});
  auto trunk2 = layers::Dense(8, {.activation = "relu", .name = "trunk"});
  Model b(in2, layers::Dense(5, {.name = "head_b"})(trunk2(in2)));
  EXPECT_THROW(b.load_weights(p, {.by_name = true}), ValueError);  // head_b is not in the file
  b.load_weights(p, {.by_name = true, .skip_mismatch = true});
  expect_same(trunk2->kernel().value(), shared->kernel().value(), "trunk kernel");
  expect_same(trunk2->bias().value(), shared->bias().value(), "trunk bias");
}

TEST(SaveWeights, NeedsABuiltModel) {
  Scratch s;
  Sequential lazy({layers::Dense(2)});
  EXPECT_THROW(lazy.save_weights(s.path("w")), StateError);
  EXPECT_THROW(lazy.load_weights(s.path("w")), StateError);
}

// ---- checkpoints ----------------------------------------------------------------------------------------

Sequential dropout_model() {
  return Sequential(Input({6}), {layers::Dense(16, "relu"), layers::Dropout(0.25), layers::Dense(3)});
}
void compile_adam(Model& m) {
  m.compile({.optimizer = optimizers::Adam(1e-2), .loss = losses::SparseCategoricalCrossentropy(true)});
}
struct Data {
  Tensor x = random::normal({90, 6}, 0, 1, DType::Float32, 21);
  Tensor y = cast(argmax(random::normal({90, 3}, 0, 1, DType::Float32, 22), -1), DType::Int32);
};

std::vector<std::vector<float>> values(const Model& m) {
  std::vector<std::vector<float>> out;
  for (const Variable& v : m.weights()) out.push_back(v.value().to_vector<float>());
  return out;
}

// A run restored from a mid-epoch checkpoint ends with bitwise the weights of the run that wrote it (dropout and
// shuffling included), in one process.
TEST(Checkpoint, ResumingMidEpochGivesBitwiseTheSameWeights) {
  Scratch s;
  Data d;
  random::set_seed(5);
  Sequential a = dropout_model();
  compile_adam(a);
  a.fit(d.x, d.y,
        {.epochs = 3,
         .batch_size = 8,
         .verbose = 0,
         .callbacks = {callbacks::ModelCheckpoint(s.path("ckpt-{step}.safetensors"), {.save_freq = 7})}});
  EXPECT_EQ(a.optimizer()->iterations().value().item<std::int64_t>(), 36);  // 12 batches x 3 epochs
  // Step 14 is batch 2 of epoch 2 (12 batches per epoch).
  saving::TensorFile f = saving::load_safetensors(s.path("ckpt-14.safetensors"));
  EXPECT_EQ(f.metadata.at("format"), "duet.checkpoint");
  EXPECT_EQ(f.find("fit/epoch")->item<std::int64_t>(), 1);
  EXPECT_EQ(f.find("fit/step")->item<std::int64_t>(), 2);
  EXPECT_NE(f.find("optimizer/slots/0/1/v"), nullptr);

  Sequential b = dropout_model();  // fresh weights, another random state
  compile_adam(b);
  Checkpoint(b).restore(s.path("ckpt-14.safetensors"));
  EXPECT_EQ(b.fit_position.epoch, 1);
  EXPECT_EQ(b.fit_position.step, 2);
  EXPECT_EQ(b.optimizer()->iterations().value().item<std::int64_t>(), 14);
  b.fit(d.x, d.y,
        {.epochs = 3,
         .batch_size = 8,
         .verbose = 0,
         .initial_epoch = b.fit_position.epoch,
         .initial_step = b.fit_position.step});
  EXPECT_EQ(values(b), values(a));
  EXPECT_EQ(b.optimizer()->iterations().value().item<std::int64_t>(), 36);
}

TEST(Checkpoint, RestoresHyperparametersAndRefusesAnotherModelWithoutChangingIt) {
  Scratch s;
  Data d;
  Sequential a = dropout_model();
  compile_adam(a);
  a.fit(d.x, d.y, {.epochs = 1, .batch_size = 30, .verbose = 0});
  a.optimizer()->learning_rate = 0.123;  // as ReduceLROnPlateau would
  std::string p = s.path("c.safetensors");
  Checkpoint(a).save(p);

  Sequential b = dropout_model();
  compile_adam(b);
  Checkpoint(b).restore(p);
  EXPECT_DOUBLE_EQ(b.optimizer()->learning_rate.get(), 0.123);
  EXPECT_EQ(values(b), values(a));

  Sequential other(Input({6}), {layers::Dense(5), layers::Dense(3)});
  compile_adam(other);
  auto before = values(other);
  EXPECT_THROW(Checkpoint(other).restore(p), ValueError);
  EXPECT_EQ(values(other), before);

  Sequential uncompiled = dropout_model();
  EXPECT_THROW(Checkpoint(uncompiled).restore(p), StateError);
  Sequential sgd = dropout_model();
  sgd.compile({.optimizer = "sgd", .loss = "mse"});
  EXPECT_THROW(Checkpoint(sgd).restore(p), ValueError);

  a.save_weights(s.path("w.safetensors"));  // a weights file is not a checkpoint
  EXPECT_THROW(Checkpoint(b).restore(s.path("w.safetensors")), IOError);
  EXPECT_THROW(Checkpoint(b).restore(s.path("missing")), IOError);
}

// A checkpoint edited by hand (names, dtypes, positions) is refused with a duet::Error, and the model is unchanged.
TEST(Checkpoint, HandEditedCheckpointsAreRefused) {
  Scratch s;
  Data d;
  Sequential a = dropout_model();
  compile_adam(a);
  a.fit(d.x, d.y, {.epochs = 1, .batch_size = 30, .verbose = 0});
  std::string p = s.path("c.safetensors");
  Checkpoint(a).save(p);
  saving::TensorFile good = saving::load_safetensors(p);
  auto edited = [&](const std::function<void(saving::NamedTensors&, std::map<std::string, std::string>&)>& edit) {
    saving::NamedTensors ts = good.tensors;
    std::map<std::string, std::string> meta = good.metadata;
    edit(ts, meta);
    std::string q = s.path("edited.safetensors");
    saving::save_safetensors(q, ts, meta);
    return q;
  };
  auto set = [](saving::NamedTensors& ts, const std::string& name, const Tensor& t) {
    for (auto& [n, v] : ts)
      if (n == name) v = t;
  };
  std::vector<std::pair<std::string, std::string>> cases = {
      {"format", edited([](auto&, auto& m) { m["format"] = "duet.weights"; })},
      {"version", edited([](auto&, auto& m) { m["format_version"] = "99"; })},
      {"unknown entry", edited([](auto& ts, auto&) { ts.emplace_back("surprise", scalar(1.f)); })},
      {"epoch dtype", edited([&](auto& ts, auto&) { set(ts, "fit/epoch", scalar(1.f)); })},
      {"negative step", edited([&](auto& ts, auto&) { set(ts, "fit/step", scalar(std::int64_t{-3})); })},
      {"slot index", edited([](auto& ts, auto&) {
         ts.emplace_back("optimizer/slots/99/0/m", zeros({6, 16}));
       })},
      {"slot name", edited([](auto& ts, auto&) {
         ts.emplace_back("optimizer/slots/x/0/m", zeros({6, 16}));
       })},
      {"slot shape", edited([&](auto& ts, auto&) { set(ts, "optimizer/slots/0/0/m", zeros({2})); })},
      {"iterations", edited([&](auto& ts, auto&) { set(ts, "optimizer/iterations", scalar(1.5)); })},
      {"hyperparameter", edited([](auto& ts, auto&) { ts.emplace_back("optimizer/hyper/warp", scalar(1.0)); })},
      {"no optimizer name", edited([](auto&, auto& m) { m.erase("optimizer"); })},
      {"missing rng",
       edited([](auto& ts, auto&) { std::erase_if(ts, [](auto& e) { return e.first == "rng/seed"; }); })},
  };
  Sequential b = dropout_model();
  compile_adam(b);
  auto before = values(b);
  for (const auto& [what, q] : cases) {
    try {
      Checkpoint(b).restore(q);
      ADD_FAILURE() << what << ": accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(q), std::string::npos) << what << ": " << e.what();
    }
    EXPECT_EQ(values(b), before) << what << ": the model changed";
  }
}

TEST(ModelCheckpoint, SavesTheBestAndKeepsTheLastK) {
  Scratch s;
  Data d;
  Sequential a = dropout_model();
  compile_adam(a);
  std::vector<double> val_losses;
  auto record = callbacks::LambdaCallback(
      {.on_epoch_end = [&](Model&, int, const Logs& l) { val_losses.push_back(l.at("val_loss")); }});
  a.fit(d.x, d.y,
        {.epochs = 6,
         .batch_size = 16,
         .validation_split = 0.3,
         .verbose = 0,
         .callbacks = {callbacks::ModelCheckpoint(s.path("best-{epoch}.safetensors"),
                                                  {.save_best_only = true, .save_weights_only = true}),
                       callbacks::ModelCheckpoint(s.path("last-{epoch}.safetensors"), {.max_to_keep = 2}), record}});
  std::vector<std::string> files = files_in(s.dir);
  std::sort(files.begin(), files.end());
  // A best file for every epoch that improved on all before it.
  std::vector<std::string> want;
  double best = 1e300;
  for (std::size_t e = 0; e < val_losses.size(); ++e) {
    if (val_losses[e] < best) {
      best = val_losses[e];
      want.push_back("best-" + std::to_string(e + 1) + ".safetensors");
    }
  }
  want.push_back("last-5.safetensors");
  want.push_back("last-6.safetensors");
  std::sort(want.begin(), want.end());
  EXPECT_EQ(files, want);
  EXPECT_THROW(callbacks::ModelCheckpoint(""), ValueError);
  EXPECT_THROW(callbacks::ModelCheckpoint("x", {.mode = "sideways"}), ValueError);
}

pid_t spawn_child(const std::string& dir, int sleep_ms) {
  std::string ms = std::to_string(sleep_ms);
  std::vector<char*> argv{const_cast<char*>(DUET_CHECKPOINT_CHILD), const_cast<char*>(dir.c_str()), ms.data(), nullptr};
  std::string threads = "DUET_NUM_THREADS=2";
  std::vector<char*> envp{threads.data(), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, DUET_CHECKPOINT_CHILD, nullptr, nullptr, argv.data(), envp.data()) != 0) return -1;
  return pid;
}

// Training killed with SIGKILL at random moments (during steps and during saves) and restarted each time ends
// with bitwise the weights of a run that was never interrupted; no kill leaves an unreadable backup.
TEST(Checkpoint, KilledAndResumedTrainingEndsBitwiseEqual) {
  Scratch s;
  const std::string clean = s.path("clean"), killed = s.path("killed");
  ASSERT_EQ(mkdir(clean.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(killed.c_str(), 0755), 0);
  int status = 0;
  pid_t pid = spawn_child(clean, 0);
  ASSERT_GT(pid, 0);
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the uninterrupted run failed";

  std::mt19937 rng(123);
  int kills = 0, kills_with_backup = 0;
  bool finished = false;
  const std::string backup = killed + "/backup/backup.safetensors";
  auto inode = [&] {
    struct stat st;
    return stat(backup.c_str(), &st) == 0 ? st.st_ino : ino_t{0};
  };
  // The first kill lands before any backup exists; each later one after the run has written a new backup
  // (a new inode: every save renames a new file into place), at a random moment after it (often mid-save).
  for (int attempt = 0; attempt < 7 && !finished; ++attempt) {
    const ino_t before = inode();
    pid = spawn_child(killed, 10);
    ASSERT_GT(pid, 0);
    if (attempt == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } else {
      for (int waited = 0; inode() == before || inode() == 0; waited += 2) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
          finished = true;
          break;
        }
        ASSERT_LT(waited, 60000) << "the child wrote no backup in 60 s";
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      if (finished) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 40)(rng)));
    }
    if (waitpid(pid, &status, WNOHANG) == pid) {
      finished = true;
      break;
    }
    const bool had_backup = inode() != 0;
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    ++kills;
    if (had_backup) {
      ++kills_with_backup;
      EXPECT_NO_THROW(saving::load_safetensors(backup)) << "kill " << kills << " left a corrupt backup";
    }
  }
  if (!finished) {  // the last run goes to the end
    pid = spawn_child(killed, 0);
    waitpid(pid, &status, 0);
  }
  RecordProperty("kills", kills);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the resumed run failed";
  EXPECT_GE(kills_with_backup, 4) << "too few kills happened after a backup existed to test resuming";
  EXPECT_EQ(access(backup.c_str(), F_OK), -1) << "BackupAndRestore deletes its backup when fit completes";
  std::string a = Scratch::read(clean + "/final.safetensors"), b = Scratch::read(killed + "/final.safetensors");
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "after " << kills << " kills the resumed run's weights differ from the uninterrupted run's";
}

}  // namespace
}  // namespace duet
