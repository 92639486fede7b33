// Shared pieces of the AVX-512 kernels (lstm_avx512_forward.cpp, lstm_avx512_backward.cpp,
// row_products_avx512.cpp): the gate nonlinearities, lane masks, aligned buffers, and the row products that the
// backward pass calls on its chunks. Included only where the compiler targets AVX-512 (__AVX512F__).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "rational_tanh.h"

namespace seqae_avx512::detail {

constexpr int64_t kUnits = 16;  // floats of a register: hidden units of a block, columns of a panel

// 1 / d by the hardware's 14-bit estimate and one Newton step (about 1e-7 relative, like a float division).
inline __m512 reciprocal16(__m512 d) {
  const __m512 r = _mm512_rcp14_ps(d);
  return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
}

// tanh as the rational function of rational_tanh.h, 16 at a time. max/min take the constant first: with a NaN
// they return their second operand, so NaN stays NaN.
inline __m512 tanh16(__m512 x) {
  using namespace seqae_tanh;
  x = _mm512_min_ps(_mm512_set1_ps(kClamp), _mm512_max_ps(_mm512_set1_ps(-kClamp), x));
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(kP[0]), q = _mm512_set1_ps(kQ[0]);
  for (int i = 1; i < kNumerator; ++i) p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(kP[i]));
  for (int i = 1; i < kDenominator; ++i) q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(kQ[i]));
  return _mm512_mul_ps(_mm512_mul_ps(x, p), reciprocal16(q));
}

// sigmoid(x) = (1 + tanh(x/2)) / 2.
inline __m512 sigmoid16(__m512 x) {
  const __m512 half = _mm512_set1_ps(0.5f);
  return _mm512_fmadd_ps(half, tanh16(_mm512_mul_ps(half, x)), half);
}

// Zeroed floats on a 64-byte boundary, so that each packed row is one cache line.
struct AlignedFloats {
  float* data = nullptr;
  explicit AlignedFloats(size_t count) {
    if (count == 0) return;
    void* p = nullptr;
    if (posix_memalign(&p, 64, count * sizeof(float)) != 0) throw std::bad_alloc();
    std::memset(p, 0, count * sizeof(float));
    data = static_cast<float*>(p);
  }
  ~AlignedFloats() { std::free(data); }
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
};


// The lanes of block `block` (16 units each) that hold one of h units.
inline __mmask16 unit_mask(int64_t h, int64_t block) {
  const int64_t live = std::min<int64_t>(kUnits, h - block * kUnits);
  return live == kUnits ? __mmask16(0xFFFF) : __mmask16((1u << live) - 1);
}

// K rows laid out as `steps` groups of `rows`: row (s, j) starts at base + s * step + j * stride.
struct Rows {
  const float* base;
  int64_t step, stride;
  const float* at(int64_t s, int64_t j) const { return base + s * step + j * stride; }
};

// Rows [p0, p1) of out (P, Q), row-major, = a^T b over the K = steps x rows rows of a (K, P) and b (K, Q), or
// += with `add` (row_products_avx512.cpp).
void rows_product_pass(Rows a, Rows b, int64_t steps, int64_t rows, int64_t q, float* out, int64_t p0, int64_t p1,
                       bool add);

}  // namespace seqae_avx512::detail
