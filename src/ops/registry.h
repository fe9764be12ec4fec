#pragma once
// Each op family appends its OpDefs here; all_ops() calls this once.
#include <vector>

namespace duet {
struct OpDef;

void register_elementwise_ops(std::vector<const OpDef*>& r);
void register_reduce_ops(std::vector<const OpDef*>& r);
void register_shape_ops(std::vector<const OpDef*>& r);
void register_random_ops(std::vector<const OpDef*>& r);
void register_state_ops(std::vector<const OpDef*>& r);

inline void register_all_ops(std::vector<const OpDef*>& r) {
  register_elementwise_ops(r);
  register_reduce_ops(r);
  register_shape_ops(r);
  register_random_ops(r);
  register_state_ops(r);
}

}  // namespace duet
