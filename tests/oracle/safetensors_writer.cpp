// Writes safetensors files for tests/oracle/read_safetensors.py, which reads them with Python's json and
// numpy only (no duet): a trained model's weights with its inputs and predictions, and one tensor per dtype
// with values the reader recomputes.
#include <duet/duet.h>

#include <iostream>

using namespace duet;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: safetensors_writer DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  try {
    Sequential model(Input({5}), {layers::Dense(7, "relu"), layers::Dense(3)});
    model.compile({.optimizer = "adam", .loss = "mse"});
    Tensor x = random::normal({32, 5}, 0, 1, DType::Float32, 11), y = random::normal({32, 3}, 0, 1, DType::Float32, 12);
    model.fit(x, y, {.epochs = 3, .batch_size = 8, .verbose = 0});
    model.save_weights(dir + "/model.safetensors");
    saving::save_safetensors(dir + "/io.safetensors", {{"x", x}, {"prediction", model.predict(x)}});
    // One tensor per dtype; the reader holds the same values.
    saving::save_safetensors(
        dir + "/dtypes.safetensors",
        {{"f32_2x3", constant({{0.f, 0.25f, 0.5f}, {0.75f, 1.f, -1.25f}})},
         {"f64_4", constant(std::vector<double>{0.0, -1.5, 1e-300, 3.0}, Shape{4})},
         {"i32_3x1", constant(std::vector<std::int32_t>{0, -7, 2147483647}, Shape{3, 1})},
         {"i64_2", constant(std::vector<std::int64_t>{std::int64_t{1} << 40, -9223372036854775807 - 1}, Shape{2})},
         {"bool_5", constant(std::vector<bool>{true, false, false, true, false}, Shape{5})},
         {"f32_scalar", scalar(3.5f)},
         {"f32_0x2", zeros({0, 2})}},
        {{"purpose", "dtype check"}});
  } catch (const Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
