// SHA-256 compression (FIPS 180-4) with the x86 SHA extensions, one state or two states over the same blocks,
// and a portable fallback. The intrinsics follow Intel's published SHA-NI sequence; the functions carry their own
// target attributes so the rest of the package is built for the baseline CPU and this code runs only after
// unity_sha256_hardware_available() said yes.
#include "CSHA256.h"
#include <string.h>

static const uint32_t round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// MARK: Portable

static inline uint32_t rotate_right(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void portable_blocks(uint32_t state[8], const uint8_t *data, size_t blocks) {
    while (blocks--) {
        uint32_t w[64];
        for (int t = 0; t < 16; t++) {
            w[t] = (uint32_t)data[4 * t] << 24 | (uint32_t)data[4 * t + 1] << 16 | (uint32_t)data[4 * t + 2] << 8
                | (uint32_t)data[4 * t + 3];
        }
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = rotate_right(w[t - 15], 7) ^ rotate_right(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = rotate_right(w[t - 2], 17) ^ rotate_right(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int t = 0; t < 64; t++) {
            uint32_t t1 = h + (rotate_right(e, 6) ^ rotate_right(e, 11) ^ rotate_right(e, 25)) + ((e & f) ^ (~e & g))
                + round_constants[t] + w[t];
            uint32_t t2 = (rotate_right(a, 2) ^ rotate_right(a, 13) ^ rotate_right(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
        data += 64;
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

#define SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

int unity_sha256_hardware_available(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    int ssse3 = (ecx >> 9) & 1, sse41 = (ecx >> 19) & 1;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    int sha = (ebx >> 29) & 1;
    return ssse3 && sse41 && sha;
}

// The SHA instructions keep the state as ABEF and CDGH.
SHA_TARGET static inline void load_state(const uint32_t state[8], __m128i *abef, __m128i *cdgh) {
    __m128i dcba = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[0]), 0xB1);
    __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[4]), 0x1B);
    *abef = _mm_alignr_epi8(dcba, efgh, 8);
    *cdgh = _mm_blend_epi16(efgh, dcba, 0xF0);
}

SHA_TARGET static inline void store_state(uint32_t state[8], __m128i abef, __m128i cdgh) {
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(dchg, feba, 8));
}

// Message words 4i…4i+3 from the previous sixteen (kept in a ring of four vectors).
#define SCHEDULE(m, i)                                                                                              \
    do {                                                                                                            \
        if ((i) >= 4) {                                                                                             \
            __m128i next = _mm_sha256msg1_epu32(m[((i) - 4) & 3], m[((i) - 3) & 3]);                                \
            next = _mm_add_epi32(next, _mm_alignr_epi8(m[((i) - 1) & 3], m[((i) - 2) & 3], 4));                     \
            m[(i) & 3] = _mm_sha256msg2_epu32(next, m[((i) - 1) & 3]);                                              \
        }                                                                                                           \
    } while (0)

SHA_TARGET static inline void load_block(__m128i m[4], const uint8_t *data) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    for (int i = 0; i < 4; i++) m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), byte_swap);
}

SHA_TARGET static void hardware_blocks(uint32_t state[8], const uint8_t *data, size_t blocks) {
    __m128i abef, cdgh;
    load_state(state, &abef, &cdgh);
    while (blocks--) {
        __m128i saved_abef = abef, saved_cdgh = cdgh, m[4];
        load_block(m, data);
#pragma clang loop unroll(full)
        for (int i = 0; i < 16; i++) {
            SCHEDULE(m, i);
            __m128i words = _mm_add_epi32(m[i & 3], _mm_loadu_si128((const __m128i *)&round_constants[4 * i]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, words);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(words, 0x0E));
        }
        abef = _mm_add_epi32(abef, saved_abef);
        cdgh = _mm_add_epi32(cdgh, saved_cdgh);
        data += 64;
    }
    store_state(state, abef, cdgh);
}

SHA_TARGET static void hardware_blocks_x2(uint32_t first[8], uint32_t second[8], const uint8_t *data, size_t blocks) {
    __m128i abef1, cdgh1, abef2, cdgh2;
    load_state(first, &abef1, &cdgh1);
    load_state(second, &abef2, &cdgh2);
    while (blocks--) {
        __m128i saved_abef1 = abef1, saved_cdgh1 = cdgh1, saved_abef2 = abef2, saved_cdgh2 = cdgh2, m[4];
        load_block(m, data);
#pragma clang loop unroll(full)
        for (int i = 0; i < 16; i++) {
            SCHEDULE(m, i);
            __m128i words = _mm_add_epi32(m[i & 3], _mm_loadu_si128((const __m128i *)&round_constants[4 * i]));
            __m128i high = _mm_shuffle_epi32(words, 0x0E);
            // Two independent chains: each waits on the SHA unit's latency while the other runs.
            cdgh1 = _mm_sha256rnds2_epu32(cdgh1, abef1, words);
            cdgh2 = _mm_sha256rnds2_epu32(cdgh2, abef2, words);
            abef1 = _mm_sha256rnds2_epu32(abef1, cdgh1, high);
            abef2 = _mm_sha256rnds2_epu32(abef2, cdgh2, high);
        }
        abef1 = _mm_add_epi32(abef1, saved_abef1);
        cdgh1 = _mm_add_epi32(cdgh1, saved_cdgh1);
        abef2 = _mm_add_epi32(abef2, saved_abef2);
        cdgh2 = _mm_add_epi32(cdgh2, saved_cdgh2);
        data += 64;
    }
    store_state(first, abef1, cdgh1);
    store_state(second, abef2, cdgh2);
}

static int hardware_checked = 0;  // 0: not yet, 1: yes, 2: no. A benign race: every thread computes the same.

static int use_hardware(void) {
    int known = __atomic_load_n(&hardware_checked, __ATOMIC_RELAXED);
    if (known == 0) {
        known = unity_sha256_hardware_available() ? 1 : 2;
        __atomic_store_n(&hardware_checked, known, __ATOMIC_RELAXED);
    }
    return known == 1;
}

void unity_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks) {
    if (use_hardware()) hardware_blocks(state, data, blocks); else portable_blocks(state, data, blocks);
}

void unity_sha256_blocks_x2(uint32_t first[8], uint32_t second[8], const uint8_t *data, size_t blocks) {
    if (use_hardware()) {
        hardware_blocks_x2(first, second, data, blocks);
    } else {
        portable_blocks(first, data, blocks);
        portable_blocks(second, data, blocks);
    }
}

#else

int unity_sha256_hardware_available(void) { return 0; }

void unity_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks) {
    portable_blocks(state, data, blocks);
}

void unity_sha256_blocks_x2(uint32_t first[8], uint32_t second[8], const uint8_t *data, size_t blocks) {
    portable_blocks(first, data, blocks);
    portable_blocks(second, data, blocks);
}

#endif
