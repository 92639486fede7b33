// The LSTM forward step fused into registers, for CPUs with AVX-512 (float32).
//
// Why: the portable path of lstm_cpu.cpp runs each step as a product (BLAS, or its own 256-bit panels) that
// writes the (N, G) pre-activations to memory, then a gate loop that reads them back. On this project's machine
// (AMD EPYC, 512-bit FMA units) torch's MKL takes its AVX2 code: 86-91 GFLOP/s on one core where 512-bit FMAs
// reach 235 (session script fma.cpp, seventh session). Here the weights are packed once per call so that one
// 64-float row of the pack holds the four gates of 16 hidden units; a block of 6 rows x 16 units keeps its
// 24 pre-activations in registers through the whole product (h_{t-1} W_hh^T, started from the input's share),
// and the gate nonlinearities, c_t and h_t are computed from those registers: the pre-activations never touch
// memory.
//
// Legend and layouts as in lstm_cpu.cpp: N batch, T time, F input features, H hidden units, G = 4H gates in
// torch's order [i, f, g, o]; U = 16 units of a block; hs, cs (T+1, N, H), gates (T, N, G), tanh_c (T, N, H).
#include "lstm_avx512.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#if defined(__AVX512F__)
#include <immintrin.h>
#define SEQAE_AVX512 1
#endif

namespace seqae_avx512 {

namespace {
std::atomic<bool> switched_on{true};
}  // namespace

bool enabled() { return available() && switched_on.load(std::memory_order_relaxed); }

bool set_enabled(bool on) { return switched_on.exchange(on); }

#ifdef SEQAE_AVX512
namespace {

constexpr int64_t kUnits = 16;      // hidden units of a block: one 16-float register per gate
constexpr int kRows = 6;            // rows of a register block: 6 x 4 sums + 4 weight registers + 1 of 32
constexpr int64_t kGroupRows = 48;  // rows that pass one block's weights (H x 64 floats) while they are in L1

// 1 / d by the hardware's 14-bit estimate and one Newton step (about 1e-7 relative, like a float division).
inline __m512 reciprocal16(__m512 d) {
  const __m512 r = _mm512_rcp14_ps(d);
  return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
}

// tanh as the rational function of lstm_cpu.cpp's tanh8 (the same coefficients, max error 2e-7), 16 at a time.
// max/min take the constant first: with a NaN they return their second operand, so NaN stays NaN.
inline __m512 tanh16(__m512 x) {
  x = _mm512_min_ps(_mm512_set1_ps(7.99881172180175781f), _mm512_max_ps(_mm512_set1_ps(-7.99881172180175781f), x));
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 p = _mm512_fmadd_ps(x2, _mm512_set1_ps(-2.76076847742355e-16f), _mm512_set1_ps(2.00018790482477e-13f));
  p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-8.60467152213735e-11f));
  p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(5.12229709037114e-08f));
  p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(1.48572235717979e-05f));
  p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(6.37261928875436e-04f));
  p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(4.89352455891786e-03f));
  p = _mm512_mul_ps(x, p);
  __m512 q = _mm512_fmadd_ps(x2, _mm512_set1_ps(1.19825839466702e-06f), _mm512_set1_ps(1.18534705686654e-04f));
  q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(2.26843463243900e-03f));
  q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(4.89352518554385e-03f));
  return _mm512_mul_ps(p, reciprocal16(q));
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

}  // namespace

bool available() { return true; }

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

inline __mmask16 unit_mask(int64_t h, int64_t block) {
  const int64_t live = std::min<int64_t>(kUnits, h - block * kUnits);
  return live == kUnits ? __mmask16(0xFFFF) : __mmask16((1u << live) - 1);
}

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
// against 3.45 ms at C's shapes on one thread) with the 4 units' block wide (session script kp2.py).
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

// --------------------------------------------------------------------------------------- row products
namespace {

constexpr int kSumRows = 12;        // rows of out per register block: 12 x 2 sums + 2 + 1 registers
constexpr int64_t kSumDepth = 256;  // rows of K per pass, so that a pass's slices of a and b stay in L1 and L2

// K rows laid out as `steps` groups of `rows`: row (s, j) starts at base + s * step + j * stride.
struct Rows {
  const float* base;
  int64_t step, stride;
  const float* at(int64_t s, int64_t j) const { return base + s * step + j * stride; }
};

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

// Rows [p0, p1) of out (P, Q) (+)= a^T b over K = steps x rows rows (see Rows).
void rows_product_pass(Rows a, Rows b, int64_t steps, int64_t rows, int64_t q, float* out, int64_t p0, int64_t p1,
                       bool add) {
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

}  // namespace

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

// ------------------------------------------------------------------------------------------------ backward
// Panel p holds columns [16p, 16p + 16) of W_hh (G, H) for each of its G rows, zero beyond H: (panels, G, 16).
struct BackwardKernel::Packed {
  int64_t h, panels;
  AlignedFloats w_hh;
  Packed(int64_t h_, int64_t panels_) : h(h_), panels(panels_), w_hh(panels_ * 4 * h_ * kUnits) {}
};

namespace {

constexpr int kBackRows = 8;              // rows of a register block: 8 x 2 sums + 2 weight registers + 1
constexpr int64_t kChunkSteps = 8;        // steps whose dA is summed into the weight gradients while in cache
constexpr int64_t kChunkBytes = 512 << 10;  // at most this much dA per thread and chunk (fewer steps for many rows)

// Where the gradient of the pre-activations of (step t, row) goes: the caller's d_xg (T, N, G), or a thread's
// scratch holding the steps [t0, t0 + chunk) of its own rows from row0 on.
struct DaRows {
  float* base;
  int64_t t0, step, row0, g;
  float* at(int64_t t, int64_t row) const { return base + (t - t0) * step + (row - row0) * g; }
};

// d(pre-activations) of rows [row, row + R) at step t, 16 units at a time: from dL/dh_t and dL/dc_t (dc, which
// becomes dL/dc_{t-1}), as gates_backward_row in lstm_cpu.cpp.
template <int R>
inline void gates_backward_block(const BackwardIO& io, const DaRows& out, int64_t row, int64_t t) {
  const int64_t h = io.h, g = 4 * h, n = io.n;
  const __m512 one = _mm512_set1_ps(1.0f);
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const int64_t nt = t * n + row + r;
    const float* a = io.gates + nt * g;
    float* da = out.at(t, row + r);
    float* dh = io.dh + (row + r) * h;
    float* dc = io.dc + (row + r) * h;
    for (int64_t u0 = 0; u0 < h; u0 += kUnits) {
      const __mmask16 m = unit_mask(h, u0 / kUnits);
      const __m512 i = _mm512_maskz_loadu_ps(m, a + u0), f = _mm512_maskz_loadu_ps(m, a + h + u0),
                   gg = _mm512_maskz_loadu_ps(m, a + 2 * h + u0), o = _mm512_maskz_loadu_ps(m, a + 3 * h + u0);
      const __m512 th = _mm512_maskz_loadu_ps(m, io.tanh_c + nt * h + u0);
      const __m512 cp = _mm512_maskz_loadu_ps(m, io.cs + nt * h + u0);
      const __m512 dhv = _mm512_maskz_loadu_ps(m, dh + u0);
      const __m512 dho = _mm512_mul_ps(dhv, o);
      const __m512 dct = _mm512_fmadd_ps(dho, _mm512_fnmadd_ps(th, th, one), _mm512_maskz_loadu_ps(m, dc + u0));
      _mm512_mask_storeu_ps(da + u0, m, _mm512_mul_ps(_mm512_mul_ps(dct, gg), _mm512_mul_ps(i, _mm512_sub_ps(one, i))));
      _mm512_mask_storeu_ps(da + h + u0, m,
                            _mm512_mul_ps(_mm512_mul_ps(dct, cp), _mm512_mul_ps(f, _mm512_sub_ps(one, f))));
      _mm512_mask_storeu_ps(da + 2 * h + u0, m, _mm512_mul_ps(_mm512_mul_ps(dct, i), _mm512_fnmadd_ps(gg, gg, one)));
      _mm512_mask_storeu_ps(da + 3 * h + u0, m, _mm512_mul_ps(_mm512_mul_ps(dho, th), _mm512_sub_ps(one, o)));
      _mm512_mask_storeu_ps(dc + u0, m, _mm512_mul_ps(dct, f));
    }
  }
}

// dL/dh_{t-1} of rows [row, row + R), columns of panels p (and p + 1 when `pair`): dA (R, G) @ W_hh + grad_hs[t].
template <int R, bool pair>
inline void back_product_block(const BackwardKernel::Packed& p, const BackwardIO& io, const DaRows& das,
                               int64_t row, int64_t t, int64_t panel) {
  const int64_t h = p.h, g = 4 * h, n = io.n;
  const float* da = das.at(t, row);
  const float* w0 = p.w_hh.data + panel * g * kUnits;
  const float* w1 = w0 + g * kUnits;
  __m512 acc[R][2];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < g; ++k) {
    const __m512 b0 = _mm512_load_ps(w0 + k * kUnits);
    const __m512 b1 = pair ? _mm512_load_ps(w1 + k * kUnits) : b0;
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(da[r * g + k]);
      acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
      if (pair) acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  const float* grad = io.grad_hs + (t * n + row) * h;  // the loss's own gradient at h_{t-1}
#pragma GCC unroll 16
  for (int half = 0; half < (pair ? 2 : 1); ++half) {
    const int64_t c0 = (panel + half) * kUnits;
    const __mmask16 m = unit_mask(h, panel + half);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 v = _mm512_add_ps(acc[r][half], _mm512_maskz_loadu_ps(m, grad + r * h + c0));
      _mm512_mask_storeu_ps(io.dh + (row + r) * h + c0, m, v);
    }
  }
}

template <int R>
inline void backward_block(const BackwardKernel::Packed& p, const BackwardIO& io, const DaRows& das, int64_t row,
                           int64_t t) {
  gates_backward_block<R>(io, das, row, t);
  int64_t panel = 0;
  for (; panel + 2 <= p.panels; panel += 2) back_product_block<R, true>(p, io, das, row, t, panel);
  if (panel < p.panels) back_product_block<R, false>(p, io, das, row, t, panel);
}

// out (len) += v (len), 16 floats at a time.
inline void add_row(float* out, const float* v, int64_t len) {
  int64_t c = 0;
  for (; c + kUnits <= len; c += kUnits) _mm512_storeu_ps(out + c, _mm512_add_ps(_mm512_loadu_ps(out + c), _mm512_loadu_ps(v + c)));
  if (c < len) {
    const __mmask16 m = unit_mask(len - c, 0);
    _mm512_mask_storeu_ps(out + c, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, out + c), _mm512_maskz_loadu_ps(m, v + c)));
  }
}

}  // namespace

BackwardKernel::BackwardKernel(const float* w_hh, int64_t h) : packed_(new Packed(h, (h + kUnits - 1) / kUnits)) {
  Packed& p = *packed_;
  const int64_t g = 4 * h;
  for (int64_t panel = 0; panel < p.panels; ++panel) {
    for (int64_t k = 0; k < g; ++k) {
      for (int64_t j = 0; j < kUnits && panel * kUnits + j < h; ++j) {
        p.w_hh.data[(panel * g + k) * kUnits + j] = w_hh[k * h + panel * kUnits + j];
      }
    }
  }
}

void BackwardKernel::run(const BackwardIO& io, int64_t r0, int64_t r1, const BackwardSums& sums) const {
  const Packed& p = *packed_;
  const int64_t h = p.h, g = 4 * h, n = io.n, m = r1 - r0, f = io.features;
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(kChunkSteps, kChunkBytes / (m * g * 4)));
  AlignedFloats scratch(io.d_xg == nullptr ? chunk * m * g : 0);
  for (int64_t t1 = io.steps; t1 > 0; t1 -= chunk) {
    const int64_t t0 = std::max<int64_t>(0, t1 - chunk);
    const DaRows das = io.d_xg != nullptr ? DaRows{io.d_xg, 0, n * g, 0, g} : DaRows{scratch.data, t0, m * g, r0, g};
    for (int64_t t = t1 - 1; t >= t0; --t) {
      int64_t row = r0;
      for (; row + kBackRows <= r1; row += kBackRows) backward_block<kBackRows>(p, io, das, row, t);
      switch (r1 - row) {
        case 7: backward_block<7>(p, io, das, row, t); break;
        case 6: backward_block<6>(p, io, das, row, t); break;
        case 5: backward_block<5>(p, io, das, row, t); break;
        case 4: backward_block<4>(p, io, das, row, t); break;
        case 3: backward_block<3>(p, io, das, row, t); break;
        case 2: backward_block<2>(p, io, das, row, t); break;
        case 1: backward_block<1>(p, io, das, row, t); break;
        default: break;
      }
    }
    // The chunk's dA, still in cache, into this thread's sums: its rows (t, r) for t in [t0, t1), r in [r0, r1).
    const int64_t steps = t1 - t0;
    const Rows da_rows{das.at(t0, r0), das.step, g};
    rows_product_pass(da_rows, Rows{io.hs + (t0 * n + r0) * h, n * h, h}, steps, m, h, sums.d_w_hh, 0, g, true);
    if (f > 0) {  // W_ih's gradient as (F, G): the 4H gates across the registers
      rows_product_pass(Rows{io.x + r0 * io.x_stride_n + t0 * io.x_stride_t, io.x_stride_t, io.x_stride_n}, da_rows,
                        steps, m, g, sums.d_w_ih_t, 0, f, true);
    }
    for (int64_t t = t0; t < t1; ++t) {
      for (int64_t row = r0; row < r1; ++row) {
        add_row(sums.d_bias, das.at(t, row), g);
        if (io.d_xg_time_sum != nullptr) add_row(io.d_xg_time_sum + row * g, das.at(t, row), g);
      }
    }
  }
}

#else  // built without AVX-512: lstm_cpu.cpp asks available() and keeps its portable path

bool available() { return false; }

struct ForwardKernel::Packed {};

ForwardKernel::ForwardKernel(const float*, const float*, const float*, int64_t, int64_t) {
  throw std::logic_error("seqae: this build of the LSTM kernel has no AVX-512 path");
}

void ForwardKernel::run(const ForwardIO&, int64_t, int64_t) const {}

struct BackwardKernel::Packed {};

BackwardKernel::BackwardKernel(const float*, int64_t) {
  throw std::logic_error("seqae: this build of the LSTM kernel has no AVX-512 path");
}

void BackwardKernel::run(const BackwardIO&, int64_t, int64_t, const BackwardSums&) const {}

void rows_product(const float*, int64_t, const float*, int64_t, int64_t, int64_t, float*, int64_t, int64_t) {
  throw std::logic_error("seqae: this build of the LSTM kernel has no AVX-512 path");
}

#endif

ForwardKernel::~ForwardKernel() = default;
BackwardKernel::~BackwardKernel() = default;

}  // namespace seqae_avx512
