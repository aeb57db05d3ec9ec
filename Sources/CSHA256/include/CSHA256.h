#ifndef UNITY_AI_CSHA256_H
#define UNITY_AI_CSHA256_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has the x86 SHA extensions (and SSSE3/SSE4.1) that the block functions below use. When it has
/// not, the block functions fall back to portable C, which is slower than swift-crypto: callers then use that.
int unity_sha256_hardware_available(void);

/// Runs SHA-256's compression function over `blocks` 64-byte blocks of `data`, updating `state` (the eight words
/// H0…H7). No padding: the caller pads the final block.
void unity_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);

/// The same blocks into two states at once: the message schedule is computed once and the two round chains are
/// interleaved, so hashing the same bytes twice (a whole file and one of its parts) costs little more than once.
void unity_sha256_blocks_x2(uint32_t first[8], uint32_t second[8], const uint8_t *data, size_t blocks);

#endif
