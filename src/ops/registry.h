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
void register_linalg_ops(std::vector<const OpDef*>& r);
void register_nn_ops(std::vector<const OpDef*>& r);
void register_conv_ops(std::vector<const OpDef*>& r);
void register_graph_structural_ops(std::vector<const OpDef*>& r);
void register_control_flow_ops(std::vector<const OpDef*>& r);
void register_fused_ops(std::vector<const OpDef*>& r);
void register_layer_ops(std::vector<const OpDef*>& r);

inline void register_all_ops(std::vector<const OpDef*>& r) {
  register_elementwise_ops(r);
  register_reduce_ops(r);
  register_shape_ops(r);
  register_random_ops(r);
  register_state_ops(r);
  register_linalg_ops(r);
  register_nn_ops(r);
  register_conv_ops(r);
  register_graph_structural_ops(r);
  register_control_flow_ops(r);
  register_fused_ops(r);
  register_layer_ops(r);
}

}  // namespace duet
