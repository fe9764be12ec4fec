#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
#include <array>
#include <cstdint>

#include "duet/attrs.h"

namespace duet {

// The Philox key and stream of one call of a random op: its "seed" attr when >= 0 (the same numbers on
// every call), else the global seed and the global call counter (random::set_seed).
void random_key_for(const Attrs& a, std::array<std::uint32_t, 2>& key, std::uint64_t& stream);

// Data-parallel fit gives each rank its own sequence of the global generator (dropout masks differ between the
// ranks' examples) while every rank keeps the same (seed, counter) state, so a checkpoint written by rank 0
// resumes every rank exactly. 0, the default, leaves the global generator's numbers unchanged. Stateless ops
// (a "seed" attr) are not affected.
void set_random_process_stream(std::uint64_t id);
std::uint64_t random_process_stream();

// Counter for element block `blk` of a call; `attempt` separates redraws.
inline std::array<std::uint32_t, 4> philox_counter(std::uint64_t stream, std::uint64_t blk, std::uint32_t attempt = 0) {
  return {static_cast<std::uint32_t>(blk), static_cast<std::uint32_t>(blk >> 32),
          static_cast<std::uint32_t>(stream) ^ (attempt << 24), static_cast<std::uint32_t>(stream >> 32)};
}

inline std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> ctr, std::array<std::uint32_t, 2> key) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    std::uint64_t p0 = std::uint64_t{kM0} * ctr[0];
    std::uint64_t p1 = std::uint64_t{kM1} * ctr[2];
    ctr = {static_cast<std::uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0], static_cast<std::uint32_t>(p1),
           static_cast<std::uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1], static_cast<std::uint32_t>(p0)};
    key[0] += kW0;
    key[1] += kW1;
  }
  return ctr;
}

// Blocks first .. first + count - 1 of a call (attempt 0) at once: out[4 i + j] is word j of
// philox4x32(philox_counter(stream, first + i), key), the same bits; eight blocks per step with AVX2.
void philox4x32_blocks(std::array<std::uint32_t, 2> key, std::uint64_t stream, std::uint64_t first, std::int64_t count,
                       std::uint32_t* out);

// Uniform in [0, 1) from 32 random bits (24 bits of mantissa for float, 53 from two words for double).
inline float u01f(std::uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }
inline double u01d(std::uint32_t hi, std::uint32_t lo) {
  return static_cast<double>(((std::uint64_t{hi} << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace duet
