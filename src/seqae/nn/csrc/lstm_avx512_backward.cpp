// The LSTM backward step for CPUs with AVX-512 (float32): the gates' gradient 16 units at a time, dA W_hh in
// register blocks, and the weights' gradients summed per thread on chunks of steps while their dA is in cache.
//
// Why: the portable backward of lstm_cpu.cpp wrote dA for all T steps (18 MB for a batch of case C, 32 x 356 x
// 400 floats), then read it back for each weight gradient (MKL, AVX2 code on this CPU); here a thread's dA of 8
// steps stays in L2 while W_hh's, W_ih's and the bias's gradients take it, and it is written out only when the
// caller needs it: a training batch of C (32 x 356) went from 19.6 to 12.6 ms on two threads (run notes:
// git show 3a3a251:benchmarks/results/perf.md).
//
// Legend and layouts as in lstm_cpu.cpp: N batch, T time, F input features, H hidden units, G = 4H gates.
#include "lstm_avx512.h"

#if defined(__AVX512F__)
#include "avx512_common.h"

namespace seqae_avx512 {

using namespace detail;

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
  for (int64_t c = 0; c < len; c += kUnits) {
    const __mmask16 m = unit_mask(len - c, 0);
    const __m512 sum = _mm512_add_ps(_mm512_maskz_loadu_ps(m, out + c), _mm512_maskz_loadu_ps(m, v + c));
    _mm512_mask_storeu_ps(out + c, m, sum);
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

BackwardKernel::~BackwardKernel() = default;

}  // namespace seqae_avx512

#endif
