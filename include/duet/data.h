#pragma once
// Data sets: IDX files (optionally gzip-compressed) and Fashion-MNIST as Debian's dataset-fashion-mnist
// installs it.
#include <string>

#include "duet/tensor.h"

namespace duet::data {

// Reads an IDX file (.gz or plain) of unsigned bytes into a tensor of dtype `dtype` and the file's shape,
// each value multiplied by `scale`. Missing, truncated or malformed files throw IOError naming the file.
Tensor read_idx(const std::string& path, DType dtype = DType::Float32, double scale = 1.0);

struct Split {
  Tensor images;  // (N, 28, 28, 1) float32 scaled to [0, 1]
  Tensor labels;  // (N,) int32 in [0, 10)
};
struct FashionMnist {
  Split train, test;
};

// Default: /usr/share/datasets/fashion-mnist (DUET_DATA_DIR overrides it; so does `dir`).
std::string default_fashion_mnist_dir();
FashionMnist load_fashion_mnist(const std::string& dir = "");
// The ten class names, in label order.
const char* fashion_mnist_class(int label);

}  // namespace duet::data
