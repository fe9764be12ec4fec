#pragma once
// Process-wide settings.

namespace duet::config {

// Threads for kernels (one OpenMP pool, shared with oneDNN). Default: DUET_NUM_THREADS, else
// OMP_NUM_THREADS, else all cores. n <= 0 restores the default.
void set_num_threads(int n);
int num_threads();

// Checks every op's floating-point outputs as they are computed, eagerly and in compiled functions (as
// tf.debugging.enable_check_numerics): the first op that produces a NaN or an infinity throws NumericsError
// naming the op, its layer and the shapes. Slows every op down by a pass over its outputs: a debugging tool.
void enable_check_numerics();
void disable_check_numerics();
bool check_numerics_enabled();

}  // namespace duet::config
