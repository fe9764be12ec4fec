#pragma once
// Each op family registers its OpDefs at start-up with one OpRegistration object in its own file, so a
// family in a higher module (control flow, layers) adds itself without the ops module knowing about it.
// all_ops() lists every registered op.
#include <vector>

namespace duet {

struct OpDef;

struct OpRegistration {
  explicit OpRegistration(void (*add)(std::vector<const OpDef*>& registry));
};

}  // namespace duet
