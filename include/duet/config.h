#pragma once
// Process-wide settings.

namespace duet::config {

// Threads for kernels (one OpenMP pool, shared with oneDNN). Default: DUET_NUM_THREADS, else
// OMP_NUM_THREADS, else all cores. n <= 0 restores the default.
void set_num_threads(int n);
int num_threads();

}  // namespace duet::config
