// The LSTM forward step fused into registers, for CPUs with AVX-512 (float32).
//
// Why: the portable path of lstm_cpu.cpp runs each step as a product (BLAS, or its own 256-bit panels) that
// writes the (N, G) pre-activations to memory, then a gate loop that reads them back. On this project's machine
// (AMD EPYC, 512-bit FMA units) torch's MKL takes its AVX2 code: 86-91 GFLOP/s on one core where 512-bit FMAs
// reach 235 (run notes: git show 3a3a251:benchmarks/results/perf.md). Here the weights are packed once per call so
// that one 64-float row of the pack holds the four gates of 16 hidden units; a block of 6 rows x 16 units keeps
// its 24 pre-activations in registers through the whole product (h_{t-1} W_hh^T, started from the input's share),
// and the gate nonlinearities, c_t and h_t are computed from those registers: the pre-activations never touch
// memory.
//
// Legend and layouts as in lstm_cpu.cpp: N batch, T time, F input features, H hidden units, G = 4H gates in
// torch's order [i, f, g, o]; hs, cs (T+1, N, H), gates (T, N, G), tanh_c (T, N, H).
#include "lstm_avx512.h"

#if defined(__AVX512F__)
#include "avx512_common.h"

namespace seqae_avx512 {

using namespace detail;

namespace {

constexpr int kRows = 6;            // rows of a register block: 6 x 4 sums + 4 weight registers + 1 of 32
constexpr int64_t kGroupRows = 48;  // rows that pass one block's weights (H x 64 floats) while they are in L1

}  // namespace

// Block b of units [16b, 16b + 16) holds, for each of its K input rows, 64 floats: the 16 units' weights of gate
// i, then f, g, o (zero beyond H). w_hh: (blocks, H, 64); w_ih: (blocks, F, 64); bias: (blocks, 64).
// A last block of at most 8 units (H = 100 ends in 4) is "narrow": its rows hold 32 floats, the units' i, f, g, o
// 8 floats each, in two registers instead of four (see step_block_narrow).
struct ForwardKernel::Packed {
  int64_t h, f, blocks;
  bool narrow_tail;
  AlignedFloats w_hh, w_ih, bias;
  Packed(int64_t h_, int64_t f_)
      : h(h_), f(f_), blocks((h_ + kUnits - 1) / kUnits), narrow_tail(h_ % kUnits != 0 && h_ % kUnits <= 8),
        w_hh(blocks * h_ * 64), w_ih(blocks * f_ * 64), bias(blocks * 64) {}
  // Offset in a block's row of the 16-float lane group (wide) or 8-float one (narrow) of gate q, and the row width.
  bool is_narrow(int64_t b) const { return narrow_tail && b == blocks - 1; }
  int64_t gate_offset(int64_t b, int64_t q) const { return is_narrow(b) ? q * 8 : q * 16; }
  int64_t row_width(int64_t b) const { return is_narrow(b) ? 32 : 64; }
};

namespace {

using Packed = ForwardKernel::Packed;

// Step t of rows [row, row + R), units of block b: pre-activations in registers, then c_t and h_t.
template <int R>
inline void step_block(const Packed& p, const ForwardIO& io, int64_t row, int64_t t, int64_t b) {
  const int64_t h = p.h, n = io.n, u0 = b * kUnits;
  const __mmask16 mask = unit_mask(h, b);
  __m512 acc[R][4];  // (rows, gates) x 16 units
  if (p.f > 0) {     // b + x_t W_ih^T, F multiply-adds per gate
    const float* bias = p.bias.data + b * 64;
#pragma GCC unroll 16
    for (int q = 0; q < 4; ++q) {
      const __m512 v = _mm512_load_ps(bias + 16 * q);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) acc[r][q] = v;
    }
    const float* w = p.w_ih.data + b * p.f * 64;
    for (int64_t j = 0; j < p.f; ++j) {
      const __m512 w0 = _mm512_load_ps(w + j * 64), w1 = _mm512_load_ps(w + j * 64 + 16),
                   w2 = _mm512_load_ps(w + j * 64 + 32), w3 = _mm512_load_ps(w + j * 64 + 48);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512 xv = _mm512_set1_ps(io.x[(row + r) * io.stride_n + t * io.stride_t + j]);
        acc[r][0] = _mm512_fmadd_ps(xv, w0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(xv, w1, acc[r][1]);
        acc[r][2] = _mm512_fmadd_ps(xv, w2, acc[r][2]);
        acc[r][3] = _mm512_fmadd_ps(xv, w3, acc[r][3]);
      }
    }
  } else {  // the input gates given, (N, T, G)
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const float* xr = io.x + (row + r) * io.stride_n + t * io.stride_t + u0;
#pragma GCC unroll 16
      for (int q = 0; q < 4; ++q) acc[r][q] = _mm512_maskz_loadu_ps(mask, xr + q * h);
    }
  }
  // += h_{t-1} W_hh^T: per input unit k, four weight registers serve all R rows.
  const float* hp = io.hs + (t * n + row) * h;
  const float* w = p.w_hh.data + b * h * 64;
  for (int64_t k = 0; k < h; ++k) {
    const __m512 w0 = _mm512_load_ps(w + k * 64), w1 = _mm512_load_ps(w + k * 64 + 16),
                 w2 = _mm512_load_ps(w + k * 64 + 32), w3 = _mm512_load_ps(w + k * 64 + 48);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(hp[r * h + k]);
      acc[r][0] = _mm512_fmadd_ps(a, w0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(a, w1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(a, w2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(a, w3, acc[r][3]);
    }
  }
  const float* c_prev = io.cs + ((t % io.cs_rows) * n + row) * h + u0;
  float* c_next = io.cs + (((t + 1) % io.cs_rows) * n + row) * h + u0;
  float* h_next = io.hs + ((t + 1) * n + row) * h + u0;
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const __m512 i = sigmoid16(acc[r][0]), f = sigmoid16(acc[r][1]), g = tanh16(acc[r][2]),
                 o = sigmoid16(acc[r][3]);
    const __m512 c = _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(mask, c_prev + r * h), _mm512_mul_ps(i, g));
    const __m512 th = tanh16(c);
    _mm512_mask_storeu_ps(c_next + r * h, mask, c);
    _mm512_mask_storeu_ps(h_next + r * h, mask, _mm512_mul_ps(o, th));
    if (io.gates != nullptr) {  // kept for the backward pass
      float* a = io.gates + (t * n + row + r) * 4 * h + u0;
      _mm512_mask_storeu_ps(a, mask, i);
      _mm512_mask_storeu_ps(a + h, mask, f);
      _mm512_mask_storeu_ps(a + 2 * h, mask, g);
      _mm512_mask_storeu_ps(a + 3 * h, mask, o);
      _mm512_mask_storeu_ps(io.tanh_c + (t * n + row + r) * h + u0, mask, th);
    }
  }
}

// The narrow last block (at most 8 units): sums (R, 2) x 16 lanes, [i | f] and [g | o], 8 units each. Its
// share of the product costs half of a wide block's; for H = 100 the layer took as long as for H = 112 (3.59
// against 3.45 ms at C's shapes on one thread) with the 4 units' block wide (measured when written).
template <int R>
inline void step_block_narrow(const Packed& p, const ForwardIO& io, int64_t row, int64_t t, int64_t b) {
  const int64_t h = p.h, n = io.n, u0 = b * kUnits;
  const __mmask8 mask = __mmask8((1u << (h - u0)) - 1);
  __m512 acc[R][2];  // (rows, [i|f] and [g|o])
  if (p.f > 0) {
    const float* bias = p.bias.data + b * 64;
    const __m512 v0 = _mm512_load_ps(bias), v1 = _mm512_load_ps(bias + 16);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r][0] = v0, acc[r][1] = v1;
    const float* w = p.w_ih.data + b * p.f * 64;
    for (int64_t j = 0; j < p.f; ++j) {
      const __m512 w0 = _mm512_load_ps(w + j * 32), w1 = _mm512_load_ps(w + j * 32 + 16);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512 xv = _mm512_set1_ps(io.x[(row + r) * io.stride_n + t * io.stride_t + j]);
        acc[r][0] = _mm512_fmadd_ps(xv, w0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(xv, w1, acc[r][1]);
      }
    }
  } else {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const float* xr = io.x + (row + r) * io.stride_n + t * io.stride_t + u0;
      acc[r][0] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_maskz_loadu_ps(mask, xr)),
                                     _mm256_maskz_loadu_ps(mask, xr + h), 1);
      acc[r][1] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_maskz_loadu_ps(mask, xr + 2 * h)),
                                     _mm256_maskz_loadu_ps(mask, xr + 3 * h), 1);
    }
  }
  const float* hp = io.hs + (t * n + row) * h;
  const float* w = p.w_hh.data + b * h * 64;
  for (int64_t k = 0; k < h; ++k) {
    const __m512 w0 = _mm512_load_ps(w + k * 32), w1 = _mm512_load_ps(w + k * 32 + 16);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(hp[r * h + k]);
      acc[r][0] = _mm512_fmadd_ps(a, w0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(a, w1, acc[r][1]);
    }
  }
  // [g | o]: tanh on the low half, sigmoid(x) = tanh(x/2)/2 + 1/2 on the high half, with one tanh16.
  const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  const __m512 scale = _mm512_insertf32x8(one, _mm512_castps512_ps256(half), 1);
  const __m512 shift = _mm512_insertf32x8(_mm512_setzero_ps(), _mm512_castps512_ps256(half), 1);
  const float* c_prev = io.cs + ((t % io.cs_rows) * n + row) * h + u0;
  float* c_next = io.cs + (((t + 1) % io.cs_rows) * n + row) * h + u0;
  float* h_next = io.hs + ((t + 1) * n + row) * h + u0;
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const __m512 if_ = sigmoid16(acc[r][0]);
    const __m512 go = _mm512_fmadd_ps(tanh16(_mm512_mul_ps(acc[r][1], scale)), scale, shift);
    const __m256 i = _mm512_castps512_ps256(if_), f = _mm512_extractf32x8_ps(if_, 1);
    const __m256 g = _mm512_castps512_ps256(go), o = _mm512_extractf32x8_ps(go, 1);
    const __m256 c = _mm256_fmadd_ps(f, _mm256_maskz_loadu_ps(mask, c_prev + r * h), _mm256_mul_ps(i, g));
    const __m256 th = _mm512_castps512_ps256(tanh16(_mm512_zextps256_ps512(c)));
    _mm256_mask_storeu_ps(c_next + r * h, mask, c);
    _mm256_mask_storeu_ps(h_next + r * h, mask, _mm256_mul_ps(o, th));
    if (io.gates != nullptr) {
      float* a = io.gates + (t * n + row + r) * 4 * h + u0;
      _mm256_mask_storeu_ps(a, mask, i);
      _mm256_mask_storeu_ps(a + h, mask, f);
      _mm256_mask_storeu_ps(a + 2 * h, mask, g);
      _mm256_mask_storeu_ps(a + 3 * h, mask, o);
      _mm256_mask_storeu_ps(io.tanh_c + (t * n + row + r) * h + u0, mask, th);
    }
  }
}

// Rows [row, row + R) of step t through every block of units.
template <int R>
inline void step_rows(const Packed& p, const ForwardIO& io, int64_t row, int64_t t, int64_t b) {
  if (p.is_narrow(b)) {
    step_block_narrow<R>(p, io, row, t, b);
  } else {
    step_block<R>(p, io, row, t, b);
  }
}

}  // namespace

ForwardKernel::ForwardKernel(const float* w_hh, const float* w_ih_t, const float* bias, int64_t h, int64_t f)
    : packed_(new Packed(h, w_ih_t != nullptr ? f : 0)) {
  Packed& p = *packed_;
  const int64_t g = 4 * h;
  for (int64_t b = 0; b < p.blocks; ++b) {
    for (int64_t q = 0; q < 4; ++q) {
      for (int64_t j = 0; j < kUnits && b * kUnits + j < h; ++j) {
        const int64_t col = q * h + b * kUnits + j;  // the gate pre-activation this lane holds
        const int64_t lane = p.gate_offset(b, q) + j, width = p.row_width(b);
        for (int64_t k = 0; k < h; ++k) p.w_hh.data[b * h * 64 + k * width + lane] = w_hh[col * h + k];
        for (int64_t k = 0; k < p.f; ++k) p.w_ih.data[b * p.f * 64 + k * width + lane] = w_ih_t[k * g + col];
        if (p.f > 0) p.bias.data[b * 64 + lane] = bias[col];
      }
    }
  }
}

void ForwardKernel::run(const ForwardIO& io, int64_t r0, int64_t r1) const {
  const Packed& p = *packed_;
  for (int64_t g0 = r0; g0 < r1; g0 += kGroupRows) {
    const int64_t g1 = std::min(r1, g0 + kGroupRows);
    for (int64_t t = 0; t < io.steps; ++t) {
      for (int64_t b = 0; b < p.blocks; ++b) {
        int64_t row = g0;
        for (; row + kRows <= g1; row += kRows) step_rows<kRows>(p, io, row, t, b);
        switch (g1 - row) {  // the group's last rows
          case 5: step_rows<5>(p, io, row, t, b); break;
          case 4: step_rows<4>(p, io, row, t, b); break;
          case 3: step_rows<3>(p, io, row, t, b); break;
          case 2: step_rows<2>(p, io, row, t, b); break;
          case 1: step_rows<1>(p, io, row, t, b); break;
          default: break;
        }
      }
    }
  }
}

ForwardKernel::~ForwardKernel() = default;

}  // namespace seqae_avx512

#endif
