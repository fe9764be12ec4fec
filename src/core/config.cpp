#include "duet/config.h"

#include "kernels/parallel.h"

namespace duet::config {
void set_num_threads(int n) { duet::set_num_threads(n); }
int num_threads() { return duet::num_threads(); }
}  // namespace duet::config
