// a^T b over many rows, for CPUs with AVX-512 (float32): the weights' gradients of an LSTM layer, sum_t dA_t^T h_{t-1}
// and sum_t dA_t^T x_t over the K = T*N rows of a batch.
//
// Why: MKL takes its AVX2 code on this project's AMD CPU (81-85 GFLOP/s on one core for dW_hh at case C's shapes,
// K = 5,760, G = 400, H = 100); here each value of a is broadcast against two 16-float registers of b, 12 rows of
// out a register block (154 GFLOP/s; run notes: git show 3a3a251:benchmarks/results/perf.md). The backward
// pass calls it on chunks of 8 steps while they are in cache (rows_product_pass with Rows of steps x rows).
#include "lstm_avx512.h"

#if defined(__AVX512F__)
#include "avx512_common.h"

namespace seqae_avx512 {

using namespace detail;

namespace {

constexpr int kSumRows = 12;        // rows of out per register block: 12 x 2 sums + 2 + 1 registers
constexpr int64_t kSumDepth = 256;  // rows of K per pass, so that a pass's slices of a and b stay in L1 and L2

// out rows [row, row + R), columns [c0, c0 + 32) = (or += with `add`) sum over the K = steps x rows rows of
// a[k, row + r] * b[k, c]: each a value broadcast against two registers of b.
template <int R>
inline void rows_product_block(Rows a, Rows b, int64_t steps, int64_t rows, int64_t q, float* out, int64_t row,
                               int64_t c0, bool add) {
  const __mmask16 m0 = unit_mask(q - c0, 0), m1 = c0 + kUnits < q ? unit_mask(q - c0 - kUnits, 0) : 0;
  __m512 acc[R][2];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t s = 0; s < steps; ++s) {
    // One pointer each, moved along the rows, so that the R values are read at constant offsets from it (indexing
    // a.at(s, j) + row + r made GCC keep an address register per r and spill them).
    const float* ak = a.at(s, 0) + row;
    const float* bk = b.at(s, 0) + c0;
    for (int64_t j = 0; j < rows; ++j, ak += a.stride, bk += b.stride) {
      const __m512 b0 = _mm512_maskz_loadu_ps(m0, bk), b1 = _mm512_maskz_loadu_ps(m1, bk + kUnits);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512 v = _mm512_set1_ps(ak[r]);
        acc[r][0] = _mm512_fmadd_ps(v, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(v, b1, acc[r][1]);
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    float* o = out + (row + r) * q + c0;
    if (add) {
      acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_maskz_loadu_ps(m0, o));
      acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_maskz_loadu_ps(m1, o + kUnits));
    }
    _mm512_mask_storeu_ps(o, m0, acc[r][0]);
    _mm512_mask_storeu_ps(o + kUnits, m1, acc[r][1]);
  }
}

// The same for a last slice of at most 16 columns, [c0, q): one register per row, 24 rows a block. Why: with two
// registers a row, H = 100 computed 128 columns, a quarter of them on zeros.
template <int R>
inline void rows_product_block_narrow(Rows a, Rows b, int64_t steps, int64_t rows, int64_t q, float* out,
                                      int64_t row, int64_t c0, bool add) {
  const __mmask16 m0 = unit_mask(q - c0, 0);
  __m512 acc[R];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t s = 0; s < steps; ++s) {
    const float* ak = a.at(s, 0) + row;
    const float* bk = b.at(s, 0) + c0;
    for (int64_t j = 0; j < rows; ++j, ak += a.stride, bk += b.stride) {
      const __m512 b0 = _mm512_maskz_loadu_ps(m0, bk);
#pragma GCC unroll 32
      for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ak[r]), b0, acc[r]);
    }
  }
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r) {
    float* o = out + (row + r) * q + c0;
    if (add) acc[r] = _mm512_add_ps(acc[r], _mm512_maskz_loadu_ps(m0, o));
    _mm512_mask_storeu_ps(o, m0, acc[r]);
  }
}

}  // namespace

// Rows [p0, p1) of out (P, Q) (+)= a^T b over K = steps x rows rows (see Rows).
void detail::rows_product_pass(Rows a, Rows b, int64_t steps, int64_t rows, int64_t q, float* out, int64_t p0,
                               int64_t p1, bool add) {
  int64_t wide = q;  // columns [0, wide) in slices of 32; a last part of at most 16 columns on its own
  if (q > 2 * kUnits && q % (2 * kUnits) != 0 && q % (2 * kUnits) <= kUnits) wide = q - q % (2 * kUnits);
  if (wide < q) {
    int64_t row = p0;
    for (; row + 24 <= p1; row += 24) rows_product_block_narrow<24>(a, b, steps, rows, q, out, row, wide, add);
    for (; row + 8 <= p1; row += 8) rows_product_block_narrow<8>(a, b, steps, rows, q, out, row, wide, add);
    for (; row < p1; ++row) rows_product_block_narrow<1>(a, b, steps, rows, q, out, row, wide, add);
  }
  for (int64_t c0 = 0; c0 < wide; c0 += 2 * kUnits) {  // a 32-column slice of b stays in L1 for all rows of out
    int64_t row = p0;
    for (; row + kSumRows <= p1; row += kSumRows) rows_product_block<kSumRows>(a, b, steps, rows, q, out, row, c0, add);
    if (row + 8 <= p1) {  // one block of 8 (an input of 8 features) rather than two of 4
      rows_product_block<8>(a, b, steps, rows, q, out, row, c0, add);
      row += 8;
    }
    for (; row + 4 <= p1; row += 4) rows_product_block<4>(a, b, steps, rows, q, out, row, c0, add);
    for (; row < p1; ++row) rows_product_block<1>(a, b, steps, rows, q, out, row, c0, add);
  }
}

void rows_product(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t k, int64_t q, float* out,
                  int64_t p0, int64_t p1) {
  if (k == 0) {
    for (int64_t row = p0; row < p1; ++row) std::memset(out + row * q, 0, sizeof(float) * q);
    return;
  }
  for (int64_t k0 = 0; k0 < k; k0 += kSumDepth) {
    const int64_t k1 = std::min(k, k0 + kSumDepth);
    rows_product_pass(Rows{a + k0 * lda, 0, lda}, Rows{b + k0 * ldb, 0, ldb}, 1, k1 - k0, q, out, p0, p1, k0 > 0);
  }
}

}  // namespace seqae_avx512

#endif
