// A data-parallel training run for the fault tests (tests/mpi/fault_test.sh), started with mpirun -np 2:
// a small model with dropout trained with Adam on fixed data, backed up into DIR every 4 batches
// (BackupAndRestore). Rank 0 prints the final weights' hash. Faults on request:
//   mpi_job DIR [--kill RANK STEP]    RANK kills itself (SIGKILL) after global batch STEP
//               [--stall RANK STEP]   RANK stops calling collectives (sleeps) after global batch STEP
#include <unistd.h>
#include <duet/duet.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

using namespace duet;

int main(int argc, char** argv) {
  if (argc != 2 && argc != 5) {
    std::cerr << "usage: mpi_job DIR [--kill|--stall RANK STEP]\n";
    return 2;
  }
  const std::string dir = argv[1];
  const std::string fault = argc == 5 ? argv[2] : "";
  const int fault_rank = argc == 5 ? std::atoi(argv[3]) : -1;
  const int fault_step = argc == 5 ? std::atoi(argv[4]) : -1;
  try {
    random::set_seed(7);
    Sequential model(Input({12}),
                     {layers::Dense(32, "relu"), layers::Dropout(0.3), layers::Dense(16, "tanh"), layers::Dense(4)});
    model.compile({.optimizer = optimizers::Adam(3e-3),
                   .loss = losses::SparseCategoricalCrossentropy(true),
                   .metrics = {"accuracy"},
                   .distribute = distributed::DataParallel{}});
    Tensor x = random::normal({512, 12}, 0, 1, DType::Float32, 1);
    Tensor y = cast(argmax(matmul(x, random::normal({12, 4}, 0, 1, DType::Float32, 2)), -1), DType::Int32);
    int seen = 0;
    auto faults = callbacks::LambdaCallback({.on_batch_end = [&](Model&, int, const Logs&) {
      if (++seen != fault_step || distributed::rank() != fault_rank) return;
      std::fprintf(stderr, "mpi_job: rank %d: %s after batch %d\n", fault_rank, fault.c_str(), seen);
      std::fflush(stderr);
      if (fault == "--kill") std::raise(SIGKILL);
      if (fault == "--stall") ::sleep(3600);
    }});
    History h = model.fit(x, y,
                          {.epochs = 4,
                           .batch_size = 32,
                           .verbose = 0,
                           .callbacks = {callbacks::BackupAndRestore(dir, {.save_freq = 4}), faults},
                           .seed = 5});
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (const Variable& v : model.weights()) {
      auto vals = v.value().to_vector<float>();
      const auto* b = reinterpret_cast<const unsigned char*>(vals.data());
      for (std::size_t i = 0; i < vals.size() * sizeof(float); ++i) hash = (hash ^ b[i]) * 0x100000001b3ULL;
    }
    if (distributed::is_chief()) {
      std::printf("final loss %.6f accuracy %.4f weights hash %016llx\n", h.history["loss"].back(),
                  h.history["accuracy"].back(), static_cast<unsigned long long>(hash));
    }
  } catch (const DistributedError& e) {
    std::cerr << "mpi_job: " << e.what() << "\n";  // the process group itself may be what failed
    return 1;
  } catch (const Error& e) {
    std::cerr << "mpi_job: rank " << distributed::rank() << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
