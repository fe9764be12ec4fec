#pragma once
// Shared by weights, checkpoints and whole-model files.
#include <string>
#include <utility>
#include <vector>

#include "duet/model.h"
#include "duet/saving.h"

namespace duet::io {

// "float32 (3, 4)"
std::string spec_text(const Tensor& t);
// The model's weights, named by layer ("dense/kernel"), in weights() order.
saving::NamedTensors named_weights(const Model& m);
// Pairs `vars` with the file's tensors (by order, or by name), checking dtypes and shapes. Throws ValueError
// listing every problem (nothing is assigned then); returns what skip_mismatch skipped ("" if nothing).
std::string match_weights(const std::string& who, const std::string& path, const std::vector<Variable>& vars,
                          const saving::NamedTensors& file, const LoadWeightsOptions& o,
                          std::vector<std::pair<Variable, Tensor>>& assign);

}  // namespace duet::io
