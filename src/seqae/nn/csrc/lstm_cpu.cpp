// Fused LSTM recurrence for the CPU: the per-step work of one LSTM layer, forward and backward.
//
// Why: at the small sizes of sequence autoencoders (N = 32 rows, H = 8..128 units) torch's own CPU LSTM spends
// most of its time in per-op overhead (dispatch, allocation, autograd nodes for each gate), not in arithmetic.
// Here each step is one small matrix product (BLAS sgemm on raw pointers into preallocated buffers, or for few
// rows per thread our own product on weights packed once per call, StepProduct: no dispatch, no tensor made per
// step) plus one fused loop over the gates (AVX2 where the CPU has it). The input projection x @ W_ih^T is done
// inside the loop for inputs of few features (set_input_row), otherwise by the caller as one big product for all
// steps; the weight gradient of W_hh is one big product after the loop.
// The tensors returned come from a pool of freed buffers (BufferPool). In float32 on a CPU with AVX-512 the
// forward and backward steps and the weights' gradients run in lstm_avx512_*.cpp instead
// (seqae_avx512::enabled()); the code here is then the path for float64, and for CPUs without AVX-512.
//
// Legend: N batch, T time, H hidden units, G = 4H gate pre-activations in torch's order [i, f, g, o].
// Layout: xg (N, T, G) batch-first, any strides except a contiguous last dimension (a stride of 0 over T, as
// for a repeated latent, is allowed); every buffer made here is time-major and contiguous: hs, cs (T+1, N, H)
// with the initial state at index 0, gates (T, N, G) after their nonlinearities, tanh_c (T, N, H).
#include "lstm_cpu.h"

#include "lstm_avx512.h"

#include <ATen/Parallel.h>
#include <torch/types.h>  // torch::Tensor and its factories, without the Python headers (bindings.cpp has those)

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "rational_tanh.h"
#define SEQAE_AVX2 1
#endif

namespace {

// exp for float as a polynomial (Cephes' expf, about 1 ulp on the clamped range), for the tails of rows and CPUs
// without AVX2; std::exp is a library call per element and would dominate.
inline float fast_exp(float x) {
  // Ternaries, not fmin/fmax: with -fno-trapping-math they become vector blends, and a NaN stays NaN.
  x = x > 88.0f ? 88.0f : x;
  x = x < -87.0f ? -87.0f : x;
  // n = round(x / ln 2) by the 1.5 * 2^23 trick: adding it leaves the integer in the low mantissa bits.
  const float shifted = x * 1.44269504088896341f + 12582912.0f;
  const float n = shifted - 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  bits = (bits - 0x4B400000 + 127) << 23;  // 2^n as a float's bits, n in [-126, 127] after the clamp
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  const float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  return p * scale;
}
inline double fast_exp(double x) { return std::exp(x); }  // double is for gradient checks, not for speed

template <typename scalar_t>
inline scalar_t sigmoid(scalar_t x) { return scalar_t(1) / (scalar_t(1) + fast_exp(-x)); }

template <typename scalar_t>
inline scalar_t tanh_(scalar_t x) { return scalar_t(1) - scalar_t(2) / (scalar_t(1) + fast_exp(scalar_t(2) * x)); }

// One row of one step, forward: a (G) gets x + hg through the gate nonlinearities; then c and h (H).
// Separate functions with __restrict pointers so that every loop vectorises without aliasing checks.
template <typename scalar_t>
void gates_forward_row(const scalar_t* __restrict x, const scalar_t* __restrict hg, const scalar_t* __restrict c_prev,
                       scalar_t* __restrict a, scalar_t* __restrict c_next, scalar_t* __restrict h_next,
                       scalar_t* __restrict tanh_c, int64_t h) {
  for (int64_t k = 0; k < 2 * h; ++k) a[k] = sigmoid(x[k] + hg[k]);                  // i, f
  for (int64_t k = 2 * h; k < 3 * h; ++k) a[k] = tanh_(x[k] + hg[k]);               // g
  for (int64_t k = 3 * h; k < 4 * h; ++k) a[k] = sigmoid(x[k] + hg[k]);             // o
  for (int64_t k = 0; k < h; ++k) {
    const scalar_t c = a[h + k] * c_prev[k] + a[k] * a[2 * h + k];                  // c = f*c_prev + i*g
    const scalar_t th = tanh_(c);
    c_next[k] = c;
    h_next[k] = a[3 * h + k] * th;                                                    // h = o*tanh(c)
    tanh_c[k] = th;
  }
}

#ifdef SEQAE_AVX2
// The same nonlinearities eight floats at a time. Written by hand because the compiler's version of the loop
// above divides (slow) and handles the short gate segments (8 to 128 values) poorly: this halves the step.
// max/min take the constant first: with a NaN they return their second operand, so NaN stays NaN. The gate loop
// is bound by the length of these functions' dependency chains, not by memory (tiling rows to stay in L1, or
// keeping a unit's four gates in registers, measured no faster).
// 1 / d by the hardware estimate and one Newton step (relative error about 1e-7, like a division in float).
inline __m256 reciprocal8(__m256 d) {
  const __m256 r = _mm256_rcp_ps(d);
  return _mm256_fmadd_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(1.0f)), r);
}
// tanh as the rational function of rational_tanh.h.
inline __m256 tanh8(__m256 x) {
  using namespace seqae_tanh;
  x = _mm256_min_ps(_mm256_set1_ps(kClamp), _mm256_max_ps(_mm256_set1_ps(-kClamp), x));
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(kP[0]), q = _mm256_set1_ps(kQ[0]);
  for (int i = 1; i < kNumerator; ++i) p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(kP[i]));
  for (int i = 1; i < kDenominator; ++i) q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(kQ[i]));
  return _mm256_mul_ps(_mm256_mul_ps(x, p), reciprocal8(q));
}
// sigmoid(x) = (1 + tanh(x/2)) / 2.
inline __m256 sigmoid8(__m256 x) {
  const __m256 half = _mm256_set1_ps(0.5f);
  return _mm256_fmadd_ps(half, tanh8(_mm256_mul_ps(half, x)), half);
}

template <>
void gates_forward_row<float>(const float* __restrict x, const float* __restrict hg, const float* __restrict c_prev,
                              float* __restrict a, float* __restrict c_next, float* __restrict h_next,
                              float* __restrict tanh_c, int64_t h) {
  // Gate segments [lo, hi): i and f sigmoid, g tanh, o sigmoid; the tail of each (H not a multiple of 8) is scalar.
  const int64_t bounds[4][2] = {{0, 2 * h}, {2 * h, 3 * h}, {3 * h, 4 * h}, {0, 0}};
  for (int seg = 0; seg < 3; ++seg) {
    const bool is_tanh = seg == 1;
    int64_t k = bounds[seg][0];
    for (; k + 8 <= bounds[seg][1]; k += 8) {
      const __m256 v = _mm256_add_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(hg + k));
      _mm256_storeu_ps(a + k, is_tanh ? tanh8(v) : sigmoid8(v));
    }
    for (; k < bounds[seg][1]; ++k) a[k] = is_tanh ? tanh_(x[k] + hg[k]) : sigmoid(x[k] + hg[k]);
  }
  int64_t k = 0;
  for (; k + 8 <= h; k += 8) {
    const __m256 c = _mm256_fmadd_ps(_mm256_loadu_ps(a + h + k), _mm256_loadu_ps(c_prev + k),
                                     _mm256_mul_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(a + 2 * h + k)));
    const __m256 th = tanh8(c);
    _mm256_storeu_ps(c_next + k, c);
    _mm256_storeu_ps(h_next + k, _mm256_mul_ps(_mm256_loadu_ps(a + 3 * h + k), th));
    _mm256_storeu_ps(tanh_c + k, th);
  }
  for (; k < h; ++k) {
    const float c = a[h + k] * c_prev[k] + a[k] * a[2 * h + k];
    const float th = tanh_(c);
    c_next[k] = c;
    h_next[k] = a[3 * h + k] * th;
    tanh_c[k] = th;
  }
}
#endif

// One row of one step: hg (G) = b + x W_ih^T for an input of few features (F), before the step's product adds
// h_{t-1} W_hh^T to it (which also spares BLAS its pass that zeroes the output). Why: with F = 1 to 16 the
// projection of all steps at once is a thin product that writes and rereads a (T, N, G) buffer (15.7 MB for
// 1024 windows of 30 steps) and runs far below the machine's speed; here it is F multiply-adds per gate while
// the step's gates are in L1. w_ih_t is W_ih^T (F, G), contiguous.
template <typename scalar_t>
void set_input_row(const scalar_t* __restrict x, int64_t f, const scalar_t* __restrict w_ih_t,
                   const scalar_t* __restrict bias, scalar_t* __restrict hg, int64_t g) {
  for (int64_t k = 0; k < g; ++k) hg[k] = bias[k];
  for (int64_t q = 0; q < f; ++q) {
    const scalar_t v = x[q];
    const scalar_t* __restrict w = w_ih_t + q * g;
    for (int64_t k = 0; k < g; ++k) hg[k] += v * w[k];
  }
}

// One row of one step, backward: from dL/dh_t (dh) and dL/dc_t (dc, updated in place to dL/dc_{t-1}) to the
// gradient of the four pre-activations (da, G).
template <typename scalar_t>
void gates_backward_row(const scalar_t* __restrict a, const scalar_t* __restrict tanh_c,
                        const scalar_t* __restrict c_prev, const scalar_t* __restrict dh, scalar_t* __restrict dc,
                        scalar_t* __restrict da, int64_t h) {
  for (int64_t k = 0; k < h; ++k) {
    const scalar_t i = a[k], f = a[h + k], g = a[2 * h + k], o = a[3 * h + k], th = tanh_c[k];
    const scalar_t dct = dc[k] + dh[k] * o * (scalar_t(1) - th * th);
    da[k] = dct * g * i * (scalar_t(1) - i);
    da[h + k] = dct * c_prev[k] * f * (scalar_t(1) - f);
    da[2 * h + k] = dct * i * (scalar_t(1) - g * g);
    da[3 * h + k] = dh[k] * th * o * (scalar_t(1) - o);
    dc[k] = dct * f;
  }
}

}  // namespace

// The Fortran BLAS that libtorch_cpu exports (MKL in the x86 wheels). Where the library lacks these symbols,
// importing the extension fails and fused_lstm.py falls back to nn.LSTM.
extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
            const int* ldc);
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c,
            const int* ldc);
}

namespace {

// A cache of the buffers this kernel returns (layer outputs, saved state, gradients), reused when a tensor of
// about the same size is freed and asked for again. Why: every batch asks for the same few sizes, a few MB each,
// and glibc hands such blocks back to the system when they are freed (heap trimming, or munmap above its mmap
// threshold), so each batch page-faulted them in again: 15-18% of scoring time went to the page-fault handler
// (perf record). A request takes the smallest idle buffer that holds it and is at most twice its size, so that
// batches of different lengths (training on variable-length sequences) reuse each other's buffers too: with
// exact sizes only, page faults and unmapping took about 7% of case C's training step (perf record). Holds at
// most `limit` bytes of idle buffers, dropping the oldest first; set_pool_limit(0) turns it off. Thread-safe:
// tensors may be freed on any thread.
class BufferPool {
 public:
  // A buffer of at least `bytes`, and its capacity (what put() takes back).
  std::pair<void*, size_t> get(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto best = idle_.rend();
      for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {   // the most recently freed first among equals
        if (it->first >= bytes && it->first / 2 <= bytes && (best == idle_.rend() || it->first < best->first)) {
          best = it;
        }
      }
      if (best != idle_.rend()) {
        const std::pair<size_t, void*> found = *best;
        idle_.erase(std::next(best).base());
        held_ -= found.first;
        return {found.second, found.first};
      }
    }
    void* p = nullptr;
    if (posix_memalign(&p, 64, bytes) != 0) throw std::bad_alloc();
    return {p, bytes};
  }
  void put(void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.emplace_back(bytes, p);
    held_ += bytes;
    trim();
  }
  void set_limit(size_t limit) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = limit;
    trim();
  }
  size_t held() {
    std::lock_guard<std::mutex> lock(mutex_);
    return held_;
  }

 private:
  void trim() {  // caller holds the lock
    while (held_ > limit_ && !idle_.empty()) {
      held_ -= idle_.front().first;
      std::free(idle_.front().second);
      idle_.pop_front();
    }
  }
  std::mutex mutex_;
  std::deque<std::pair<size_t, void*>> idle_;  // (bytes, buffer), oldest first
  size_t held_ = 0;
  size_t limit_ = size_t(64) << 20;
};

// Never destroyed: a tensor freed while the interpreter shuts down still finds its pool.
BufferPool& pool() {
  static BufferPool* instance = new BufferPool();
  return *instance;
}

// torch::empty, with the memory from the pool; the tensor's deleter gives it back.
torch::Tensor pooled_empty(torch::IntArrayRef sizes, const torch::TensorOptions& options) {
  int64_t numel = 1;
  for (int64_t s : sizes) numel *= s;
  const size_t bytes = static_cast<size_t>(numel) * options.dtype().itemsize();
  if (bytes == 0) return torch::empty(sizes, options);
  const auto [p, capacity] = pool().get(bytes);
  return torch::from_blob(p, sizes, [capacity = capacity](void* q) { pool().put(q, capacity); }, options);
}

// Fewest rows worth a thread of their own: below this, starting the thread costs more than the rows' work.
constexpr int64_t kMinRowsPerThread = 8;

inline void gemm(const char* ta, const char* tb, int m, int n, int k, const float* a, int lda, const float* b,
                 int ldb, float* c, int ldc, bool accumulate) {
  const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  sgemm_(ta, tb, &m, &n, &k, &one, a, &lda, b, &ldb, &beta, c, &ldc);
}
inline void gemm(const char* ta, const char* tb, int m, int n, int k, const double* a, int lda, const double* b,
                 int ldb, double* c, int ldc, bool accumulate) {
  const double one = 1.0, beta = accumulate ? 1.0 : 0.0;
  dgemm_(ta, tb, &m, &n, &k, &one, a, &lda, b, &ldb, &beta, c, &ldc);
}

// Row-major C (m x n) = A (m x k) @ B (k x n), or C += A @ B with `accumulate`, with B stored transposed (n x k)
// when `b_transposed`. BLAS is column-major, so this asks it for C^T = B^T A^T.
template <typename scalar_t>
void matmul(const scalar_t* a, const scalar_t* b, bool b_transposed, scalar_t* c, int64_t m, int64_t n, int64_t k,
            bool accumulate = false) {
  gemm(b_transposed ? "T" : "N", "N", static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), b,
       static_cast<int>(b_transposed ? k : n), a, static_cast<int>(k), c, static_cast<int>(n), accumulate);
}

// Rows per thread up to which the step's product runs on our panels (StepProduct) instead of BLAS. Why:
// BLAS copies ("packs") all of B into its own layout at every call, which costs as much whatever the rows; with
// few rows per thread (training batches of 32 split over threads) that copy is a large share of the product:
// 17% of case C's step on two threads (perf record). Packed once per call instead, a training step took
// 16.3 against 18.2 ms for C (32 x 180 steps, H = 100) and 1.80 against 2.10 ms for A on two threads, and
// the same on one (29.1 against 29.1, 2.60 against 2.66); with the 512-1024 rows of inference batches BLAS
// stayed as fast or faster (both paths in one build switched per call; run notes:
// git show 3a3a251:benchmarks/results/perf.md).
constexpr int64_t kPanelMaxRows = 64;

inline bool panels_pay(int64_t n) {
  const int64_t threads = std::max<int64_t>(1, at::get_num_threads());
  return (n + threads - 1) / threads <= kPanelMaxRows;
}

// The per-step product c (m x N) (+)= a (m x K) @ B, with B (K x N) the same at every step (W_hh^T forward,
// W_hh backward; B given as stored, transposed or not, as for matmul). a and c contiguous. BLAS, except for
// float with AVX2 and `panels`: then B is packed once into panels of 16 columns (zero beyond N), each K x 16
// contiguous, multiplied by blocks of 6 rows of a with the 6 x 16 sums in twelve registers (the rows padded to a
// multiple of 6 with zeros).
template <typename scalar_t>
class StepProduct {
 public:
  StepProduct(const scalar_t* b, bool b_transposed, int64_t k, int64_t n, bool panels)
      : b_(b), b_transposed_(b_transposed), k_(k), n_(n) {
#ifdef SEQAE_AVX2
    if constexpr (std::is_same_v<scalar_t, float>) {
      if (panels) pack();
    }
#else
    (void)panels;
#endif
  }
  void run(const scalar_t* a, int64_t m, scalar_t* c, bool accumulate) const {
#ifdef SEQAE_AVX2
    if constexpr (std::is_same_v<scalar_t, float>) {
      if (!packed_.empty()) {
        run_panels(a, m, c, accumulate);
        return;
      }
    }
#endif
    matmul(a, b_, b_transposed_, c, m, n_, k_, accumulate);
  }

 private:
#ifdef SEQAE_AVX2
  int64_t panels() const { return (n_ + 15) / 16; }

  void pack() {
    packed_.assign(static_cast<size_t>(panels() * k_ * 16), 0.0f);
    for (int64_t p = 0; p < panels(); ++p) {
      for (int64_t kk = 0; kk < k_; ++kk) {
        for (int64_t j = 0; j < 16 && p * 16 + j < n_; ++j) {
          const int64_t col = p * 16 + j;
          packed_[(p * k_ + kk) * 16 + j] = b_transposed_ ? b_[col * k_ + kk] : b_[kk * n_ + col];
        }
      }
    }
  }

  void run_panels(const float* a, int64_t m, float* c, bool accumulate) const {
    const int64_t m6 = (m + 5) / 6 * 6;
    const float* a_all = a;
    if (m6 != m) {  // a with its rows padded to a multiple of 6 with zeros, in a buffer kept by each thread
      thread_local std::vector<float> pad;
      pad.resize(static_cast<size_t>(m6 * k_));
      std::memcpy(pad.data(), a, sizeof(float) * m * k_);
      std::fill(pad.begin() + m * k_, pad.begin() + m6 * k_, 0.0f);
      a_all = pad.data();
    }
    for (int64_t p = 0; p < panels(); ++p) {  // a panel stays in L1 while every row block passes
      const int cols = static_cast<int>(std::min<int64_t>(16, n_ - p * 16));
      for (int64_t r = 0; r < m; r += 6) {
        const int rows = static_cast<int>(std::min<int64_t>(6, m - r));
        alignas(32) float out[6][16];
        block6(a_all + r * k_, packed_.data() + p * k_ * 16, out);
        for (int q = 0; q < rows; ++q) {
          float* row = c + (r + q) * n_ + p * 16;
          if (cols == 16) {
            const __m256 lo = _mm256_load_ps(out[q]), hi = _mm256_load_ps(out[q] + 8);
            _mm256_storeu_ps(row, accumulate ? _mm256_add_ps(lo, _mm256_loadu_ps(row)) : lo);
            _mm256_storeu_ps(row + 8, accumulate ? _mm256_add_ps(hi, _mm256_loadu_ps(row + 8)) : hi);
          } else if (accumulate) {
            for (int j = 0; j < cols; ++j) row[j] += out[q][j];
          } else {
            for (int j = 0; j < cols; ++j) row[j] = out[q][j];
          }
        }
      }
    }
  }

  // out (6 x 16) = a (6 rows of K) @ panel (K x 16), the twelve sums in named registers (an array of them was
  // spilled to the stack at every multiply-add: 40 ms against 29 for C's step).
  void block6(const float* a, const float* panel, float (*out)[16]) const {
    const int64_t k = k_;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t kk = 0; kk < k; ++kk) {
      const __m256 b0 = _mm256_loadu_ps(panel + kk * 16), b1 = _mm256_loadu_ps(panel + kk * 16 + 8);
      __m256 av = _mm256_broadcast_ss(a + kk);
      c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
      av = _mm256_broadcast_ss(a + k + kk);
      c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
      av = _mm256_broadcast_ss(a + 2 * k + kk);
      c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
      av = _mm256_broadcast_ss(a + 3 * k + kk);
      c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
      av = _mm256_broadcast_ss(a + 4 * k + kk);
      c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
      av = _mm256_broadcast_ss(a + 5 * k + kk);
      c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
    }
    _mm256_store_ps(out[0], c00); _mm256_store_ps(out[0] + 8, c01);
    _mm256_store_ps(out[1], c10); _mm256_store_ps(out[1] + 8, c11);
    _mm256_store_ps(out[2], c20); _mm256_store_ps(out[2] + 8, c21);
    _mm256_store_ps(out[3], c30); _mm256_store_ps(out[3] + 8, c31);
    _mm256_store_ps(out[4], c40); _mm256_store_ps(out[4] + 8, c41);
    _mm256_store_ps(out[5], c50); _mm256_store_ps(out[5] + 8, c51);
  }
#endif

  const scalar_t* b_;
  bool b_transposed_;
  int64_t k_, n_;
  std::vector<float> packed_;  // the panels; empty: BLAS
};

// xg is either the input gates (N, T, G), or with w_ih_t given the input itself (N, T, F), projected in the loop.
void check_inputs(const torch::Tensor& xg, const torch::Tensor& h0, const torch::Tensor& c0,
                  const torch::Tensor& w_hh, const torch::Tensor& w_ih_t, const torch::Tensor& bias) {
  TORCH_CHECK(xg.dim() == 3, "xg: expected (N, T, 4H) or, with w_ih_t, (N, T, F), got ", xg.sizes());
  const int64_t n = xg.size(0), h = w_hh.size(1), g = 4 * h;
  TORCH_CHECK(w_hh.dim() == 2 && w_hh.size(0) == g, "w_hh: expected (4H, H), got ", w_hh.sizes());
  if (w_ih_t.defined()) {
    TORCH_CHECK(w_ih_t.dim() == 2 && w_ih_t.size(0) == xg.size(2) && w_ih_t.size(1) == g && w_ih_t.is_contiguous(),
                "w_ih_t: expected contiguous (F, 4H) = (", xg.size(2), ", ", g, "), got ", w_ih_t.sizes());
    TORCH_CHECK(bias.defined() && bias.dim() == 1 && bias.size(0) == g && bias.is_contiguous(),
                "bias: expected contiguous (4H,) = (", g, ",)");
    TORCH_CHECK(w_ih_t.scalar_type() == xg.scalar_type() && bias.scalar_type() == xg.scalar_type(),
                "x, w_ih_t and bias must share one dtype");
  } else {
    TORCH_CHECK(xg.size(2) == g, "xg: expected 4H = ", g, " input gates, got ", xg.size(2));
  }
  TORCH_CHECK(h0.sizes() == torch::IntArrayRef({n, h}) && c0.sizes() == torch::IntArrayRef({n, h}),
              "h0, c0: expected (", n, ", ", h, "), got ", h0.sizes(), " and ", c0.sizes());
  TORCH_CHECK(xg.stride(2) == 1, "xg: the last dimension must be contiguous");
  TORCH_CHECK(xg.device().is_cpu(), "the fused LSTM runs on the CPU only");
  TORCH_CHECK(xg.scalar_type() == h0.scalar_type() && xg.scalar_type() == c0.scalar_type() &&
              xg.scalar_type() == w_hh.scalar_type(), "xg, h0, c0 and w_hh must share one dtype");
}

}  // namespace

// With w_ih_t (F, G) and bias (G) given, xg is the input x (N, T, F) and its projection x W_ih^T + b is done
// step by step in the loop (for few features, see set_input_row); the gradient returned by lstm_backward is
// then that of the projection's output, from which the caller gets those of x, W_ih and b.
// Returns hs (T+1, N, H), c_T (N, H) and, when `save` (a backward will follow), cs (T+1, N, H), gates (T, N, G)
// and tanh_c (T, N, H); otherwise those three are empty, and the cell states live in two rotating rows.
std::vector<torch::Tensor> lstm_forward(const torch::Tensor& xg, const torch::Tensor& h0, const torch::Tensor& c0,
                                        const torch::Tensor& w_hh, bool save,
                                        const std::optional<torch::Tensor>& w_ih_t_opt,
                                        const std::optional<torch::Tensor>& bias_opt) {
  const torch::Tensor w_ih_t = w_ih_t_opt.has_value() ? *w_ih_t_opt : torch::Tensor();
  const torch::Tensor bias = bias_opt.has_value() ? *bias_opt : torch::Tensor();
  check_inputs(xg, h0, c0, w_hh, w_ih_t, bias);
  const bool inline_input = w_ih_t.defined();
  const int64_t n = xg.size(0), steps = xg.size(1), h = w_hh.size(1), g = 4 * h;
  auto hs = pooled_empty({steps + 1, n, h}, xg.options());
  // Without save only two cell-state rows rotate: a fresh (T+1, N, H) buffer per call costs page faults.
  auto cs = pooled_empty({save ? steps + 1 : 2, n, h}, xg.options());
  hs[0].copy_(h0);
  cs[0].copy_(c0);
  auto gates = pooled_empty({save ? steps : 1, n, g}, xg.options());
  auto tanh_c = pooled_empty({save ? steps : 1, n, h}, xg.options());
  auto hg = pooled_empty({n, g}, xg.options());  // h_{t-1} @ W_hh^T (+ b + x_t W_ih^T inline), reused every step
  // With the input projected inline, hg holds the whole pre-activation and a row of zeros stands in for xg.
  auto zeros = torch::zeros({inline_input ? g : 0}, xg.options());
  AT_DISPATCH_FLOATING_TYPES(xg.scalar_type(), "seqae_lstm_forward", [&] {
    if constexpr (std::is_same_v<scalar_t, float>) {
      if (seqae_avx512::enabled()) {  // the step fused into registers (lstm_avx512_forward.cpp)
        const int64_t f = inline_input ? xg.size(2) : 0;
        const seqae_avx512::ForwardKernel kernel(w_hh.data_ptr<float>(),
                                                 inline_input ? w_ih_t.data_ptr<float>() : nullptr,
                                                 inline_input ? bias.data_ptr<float>() : nullptr, h, f);
        seqae_avx512::ForwardIO io;
        io.x = xg.data_ptr<float>();
        io.stride_n = xg.stride(0);
        io.stride_t = xg.stride(1);
        io.hs = hs.data_ptr<float>();
        io.cs = cs.data_ptr<float>();
        io.cs_rows = save ? steps + 1 : 2;
        io.gates = save ? gates.data_ptr<float>() : nullptr;
        io.tanh_c = save ? tanh_c.data_ptr<float>() : nullptr;
        io.n = n;
        io.steps = steps;
        at::parallel_for(0, n, kMinRowsPerThread, [&](int64_t r0, int64_t r1) { kernel.run(io, r0, r1); });
        return;
      }
    }
    const scalar_t* xg_p = xg.data_ptr<scalar_t>();
    const scalar_t* w_p = w_hh.data_ptr<scalar_t>();
    const StepProduct<scalar_t> product(w_p, true, h, g, panels_pay(n));  // h_{t-1} (m, H) @ W_hh^T (H, G)
    const scalar_t* w_ih_p = inline_input ? w_ih_t.data_ptr<scalar_t>() : nullptr;
    const scalar_t* bias_p = inline_input ? bias.data_ptr<scalar_t>() : nullptr;
    const scalar_t* zeros_p = inline_input ? zeros.data_ptr<scalar_t>() : nullptr;
    const int64_t f = xg.size(2);
    scalar_t* hs_p = hs.data_ptr<scalar_t>();
    scalar_t* cs_p = cs.data_ptr<scalar_t>();
    scalar_t* gates_p = gates.data_ptr<scalar_t>();
    scalar_t* tanh_p = tanh_c.data_ptr<scalar_t>();
    scalar_t* hg_p = hg.data_ptr<scalar_t>();
    const int64_t sn = xg.stride(0), st = xg.stride(1);
    const int64_t rows = save ? steps + 1 : 2;  // cell-state rows kept
    // Rows of a batch never interact, so each thread runs its own block of rows through all the steps: one
    // parallel region per call, no synchronisation between steps (waking threads at every step would cost
    // more than a step). Each block's rows are contiguous within every (N, .) buffer of a step.
    at::parallel_for(0, n, kMinRowsPerThread, [&](int64_t r0, int64_t r1) {
      const int64_t m = r1 - r0;
      for (int64_t t = 0; t < steps; ++t) {
        scalar_t* hg_b = hg_p + r0 * g;
        if (inline_input) {
          for (int64_t row = 0; row < m; ++row) {
            set_input_row(xg_p + (r0 + row) * sn + t * st, f, w_ih_p, bias_p, hg_b + row * g, g);  // b + x_t W_ih^T
          }
        }
        product.run(hs_p + (t * n + r0) * h, m, hg_b, inline_input);  // (+)= h_{t-1} W_hh^T
        const scalar_t* c_prev = cs_p + ((t % rows) * n + r0) * h;
        scalar_t* c_next = cs_p + (((t + 1) % rows) * n + r0) * h;
        scalar_t* h_next = hs_p + ((t + 1) * n + r0) * h;
        scalar_t* act = gates_p + ((save ? t * n : 0) + r0) * g;  // without save: one scratch step
        scalar_t* tc = tanh_p + ((save ? t * n : 0) + r0) * h;
        for (int64_t row = 0; row < m; ++row) {
          const scalar_t* x_row = xg_p + (r0 + row) * sn + t * st;
          gates_forward_row(inline_input ? zeros_p : x_row, hg_b + row * g, c_prev + row * h, act + row * g,
                            c_next + row * h, h_next + row * h, tc + row * h, h);
        }
      }
    });
  });
  auto c_last = cs[steps % (save ? steps + 1 : 2)].clone();
  if (!save) {
    cs = torch::empty({0}, xg.options());
    gates = torch::empty({0}, xg.options());
    tanh_c = torch::empty({0}, xg.options());
  }
  return {hs, c_last, cs, gates, tanh_c};
}

at::Tensor rows_product(const at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(0) == b.size(0), "rows_product: expected (K, P) and (K, Q), got ",
              a.sizes(), " and ", b.sizes());
  if (a.scalar_type() != at::kFloat || b.scalar_type() != at::kFloat || !seqae_avx512::enabled() ||
      a.stride(1) != 1 || b.stride(1) != 1) {
    return at::mm(a.t(), b);
  }
  const int64_t k = a.size(0), p = a.size(1), q = b.size(1);
  auto out = pooled_empty({p, q}, b.options());
  const float* a_p = a.data_ptr<float>();
  const float* b_p = b.data_ptr<float>();
  float* out_p = out.data_ptr<float>();
  // Threads take blocks of 4 rows of out; each row's sums stay with one thread.
  at::parallel_for(0, (p + 3) / 4, 1, [&](int64_t q0, int64_t q1) {
    seqae_avx512::rows_product(a_p, a.stride(0), b_p, b.stride(0), k, q, out_p, 4 * q0, std::min(p, 4 * q1));
  });
  return out;
}

void set_pool_limit(int64_t bytes) { pool().set_limit(static_cast<size_t>(std::max<int64_t>(bytes, 0))); }

int64_t pool_held() { return static_cast<int64_t>(pool().held()); }

// grad_hs (T+1, N, H): gradient of the loss w.r.t. hs (index 0 is h0 itself); grad_c_last (N, H): w.r.t. the
// final cell state; x: the layer's input (N, T, F), given for W_ih's gradient (the input gates xg = x W_ih^T + b,
// projected inside the forward's loop or before it).
// Returns d_xg (T, N, G) time-major (the gradient w.r.t. the pre-activations, which is the gradient w.r.t. xg;
// undefined unless keep_d_xg), d_h0 (N, H), d_c0 (N, H), d_w_hh (G, H), d_w_ih (G, F) (undefined without x),
// d_bias (G,) (the pre-activations' bias), and d_xg summed over time (N, G) (undefined unless time_sum: the
// gradient of an input repeated at every step).
std::vector<torch::Tensor> lstm_backward(const torch::Tensor& grad_hs, const torch::Tensor& grad_c_last,
                                         const torch::Tensor& hs, const torch::Tensor& cs,
                                         const torch::Tensor& gates, const torch::Tensor& tanh_c,
                                         const torch::Tensor& w_hh, const std::optional<torch::Tensor>& x,
                                         bool keep_d_xg, bool time_sum) {
  const int64_t steps = gates.size(0), n = gates.size(1), g = gates.size(2), h = g / 4;
  TORCH_CHECK(grad_hs.sizes() == hs.sizes() && grad_hs.is_contiguous(), "grad_hs: expected contiguous ",
              hs.sizes(), ", got ", grad_hs.sizes());
  TORCH_CHECK(grad_c_last.sizes() == torch::IntArrayRef({n, h}), "grad_c_last: expected (", n, ", ", h, ")");
  const bool with_x = x.has_value();
  const int64_t f = with_x ? x->size(2) : 0;
  if (with_x) {
    TORCH_CHECK(x->dim() == 3 && x->size(0) == n && x->size(1) == steps && x->stride(2) == 1 &&
                x->scalar_type() == gates.scalar_type(), "x: expected (", n, ", ", steps,
                ", F) with a contiguous last dimension, got ", x->sizes());
  }
  auto dh = grad_hs[steps].clone();            // dL/dh_t flowing back, (N, H)
  auto dc = grad_c_last.contiguous().clone();  // dL/dc_t flowing back, (N, H)
  if (gates.scalar_type() == at::kFloat && seqae_avx512::enabled()) {
    // 512-bit gates and products (lstm_avx512_backward.cpp); each thread sums the weight gradients over its own rows,
    // chunk by chunk while dA is in cache, and d_xg is written only when asked for.
    auto d_xg = keep_d_xg ? pooled_empty({steps, n, g}, gates.options()) : torch::Tensor();
    auto sum_t = time_sum ? torch::zeros({n, g}, gates.options()) : torch::Tensor();
    const int64_t threads = std::max<int64_t>(1, at::get_num_threads()), per_thread = g * h + f * g + g;
    auto shares = torch::zeros({threads, per_thread}, gates.options());  // one row of sums per thread
    const seqae_avx512::BackwardKernel kernel(w_hh.data_ptr<float>(), h);
    seqae_avx512::BackwardIO io;
    io.gates = gates.data_ptr<float>();
    io.tanh_c = tanh_c.data_ptr<float>();
    io.cs = cs.data_ptr<float>();
    io.hs = hs.data_ptr<float>();
    io.grad_hs = grad_hs.data_ptr<float>();
    if (with_x) {
      io.x = x->data_ptr<float>();
      io.x_stride_n = x->stride(0);
      io.x_stride_t = x->stride(1);
      io.features = f;
    }
    io.d_xg = keep_d_xg ? d_xg.data_ptr<float>() : nullptr;
    io.d_xg_time_sum = time_sum ? sum_t.data_ptr<float>() : nullptr;
    io.dh = dh.data_ptr<float>();
    io.dc = dc.data_ptr<float>();
    io.n = n;
    io.steps = steps;
    io.h = h;
    float* shares_p = shares.data_ptr<float>();
    at::parallel_for(0, n, kMinRowsPerThread, [&](int64_t r0, int64_t r1) {
      float* mine = shares_p + std::min<int64_t>(at::get_thread_num(), threads - 1) * per_thread;
      kernel.run(io, r0, r1, seqae_avx512::BackwardSums{mine, with_x ? mine + g * h : nullptr, mine + g * h + f * g});
    });
    const auto total = shares.sum(0);
    auto d_w_ih = with_x ? total.narrow(0, g * h, f * g).view({f, g}).t().contiguous() : torch::Tensor();
    return {d_xg, dh, dc, total.narrow(0, 0, g * h).view({g, h}), d_w_ih, total.narrow(0, g * h + f * g, g), sum_t};
  }
  auto d_xg = pooled_empty({steps, n, g}, gates.options());
  auto dh_rec = pooled_empty({n, h}, gates.options());
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "seqae_lstm_backward", [&] {
    scalar_t* dh_p = dh.data_ptr<scalar_t>();
    scalar_t* dc_p = dc.data_ptr<scalar_t>();
    scalar_t* rec_p = dh_rec.data_ptr<scalar_t>();
    scalar_t* dxg_p = d_xg.data_ptr<scalar_t>();
    const scalar_t* grad_p = grad_hs.data_ptr<scalar_t>();
    const scalar_t* gates_p = gates.data_ptr<scalar_t>();
    const scalar_t* tanh_p = tanh_c.data_ptr<scalar_t>();
    const scalar_t* cs_p = cs.data_ptr<scalar_t>();
    const scalar_t* w_p = w_hh.data_ptr<scalar_t>();
    const StepProduct<scalar_t> product(w_p, false, g, h, panels_pay(n));  // dA (m, G) @ W_hh (G, H)
    // As in the forward pass: each thread takes a block of rows back through all the steps.
    at::parallel_for(0, n, kMinRowsPerThread, [&](int64_t r0, int64_t r1) {
      const int64_t m = r1 - r0;
      scalar_t* dh_b = dh_p + r0 * h;
      scalar_t* dc_b = dc_p + r0 * h;
      scalar_t* rec = rec_p + r0 * h;
      for (int64_t t = steps - 1; t >= 0; --t) {
        const scalar_t* a = gates_p + (t * n + r0) * g;
        const scalar_t* tc = tanh_p + (t * n + r0) * h;
        const scalar_t* cp = cs_p + (t * n + r0) * h;
        scalar_t* da = dxg_p + (t * n + r0) * g;
        for (int64_t row = 0; row < m; ++row) {
          gates_backward_row(a + row * g, tc + row * h, cp + row * h, dh_b + row * h, dc_b + row * h,
                             da + row * g, h);
        }
        product.run(da, m, rec, false);  // (m, G) @ (G, H): back to h_{t-1}
        const scalar_t* gprev = grad_p + (t * n + r0) * h;  // the loss's own gradient at h_{t-1} (h0 when t = 0)
        for (int64_t j = 0; j < m * h; ++j) dh_b[j] = rec[j] + gprev[j];
      }
    });
  });
  // dW_hh = sum_t dA_t^T h_{t-1}: one product over all T*N rows instead of T small ones, computed as
  // (H, T*N) @ (T*N, G) and transposed: with the long axis inside, MKL ran it 1.1x (H = 32, 100) to 5x (H = 8)
  // faster than (G, T*N) @ (T*N, H) (measured when written; as InputProjection's weight gradient). W_ih's likewise
  // from the input's rows, time-major like d_xg's.
  const auto rows = d_xg.view({steps * n, g});
  const at::Tensor d_w_hh = at::mm(hs.narrow(0, 0, steps).view({steps * n, h}).t(), rows).t().contiguous();
  const at::Tensor d_w_ih =
      with_x ? at::mm(x->transpose(0, 1).reshape({steps * n, f}).t(), rows).t().contiguous() : at::Tensor();
  return {keep_d_xg ? d_xg : at::Tensor(), dh, dc, d_w_hh, d_w_ih, rows.sum(0), time_sum ? d_xg.sum(0) : at::Tensor()};
}
