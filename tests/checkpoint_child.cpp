// The training run the kill-and-resume test (saving_test.cpp) starts, kills with SIGKILL and starts again:
// a model with dropout, trained with Adam on fixed data, backed up every 3 batches by BackupAndRestore. When
// it completes, it writes its final weights to DIR/final.safetensors.
//   checkpoint_child DIR SLEEP_MS
#include <duet/duet.h>

#include <chrono>
#include <iostream>
#include <thread>

using namespace duet;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: checkpoint_child DIR SLEEP_MS\n";
    return 2;
  }
  const std::string dir = argv[1];
  const int sleep_ms = std::atoi(argv[2]);
  try {
    random::set_seed(7);
    Sequential model(Input({12}),
                     {layers::Dense(32, "relu"), layers::Dropout(0.3), layers::Dense(16, "tanh"), layers::Dense(4)});
    model.compile({.optimizer = optimizers::Adam(optimizers::schedules::ExponentialDecay(3e-3, 20, 0.9)),
                   .loss = losses::SparseCategoricalCrossentropy(true),
                   .metrics = {"accuracy"}});
    Tensor x = random::normal({200, 12}, 0, 1, DType::Float32, 1);
    Tensor y = cast(argmax(matmul(x, random::normal({12, 4}, 0, 1, DType::Float32, 2)), -1), DType::Int32);
    auto slow = callbacks::LambdaCallback({.on_batch_end = [&](Model&, int, const Logs&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    }});
    model.fit(x, y,
              {.epochs = 4,
               .batch_size = 16,
               .verbose = 0,
               .callbacks = {callbacks::BackupAndRestore(dir + "/backup", {.save_freq = 3}), slow}});
    model.save_weights(dir + "/final.safetensors");
  } catch (const Error& e) {
    std::cerr << "checkpoint_child: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
