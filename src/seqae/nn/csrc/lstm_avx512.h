// The LSTM kernels for CPUs with AVX-512 (float32 only): the forward step fused into registers
// (lstm_avx512_forward.cpp), the backward step with the weights' gradients (lstm_avx512_backward.cpp), and a^T b
// over many rows (row_products_avx512.cpp); lstm_avx512.cpp says whether they run.
// Legend and layouts as in lstm_cpu.cpp: N batch, T time, F input features, H hidden units, G = 4H gates in
// torch's order [i, f, g, o]; every buffer written is time-major.
#pragma once

#include <cstdint>
#include <memory>

namespace seqae_avx512 {

// Whether this build has the AVX-512 kernels (the extension is compiled with -mavx512f where torch found it).
bool available();

// Whether lstm_cpu.cpp takes them: available() and not switched off by set_enabled(false), which the tests use to
// run the portable path on the same machine. Returns the previous setting.
bool enabled();
bool set_enabled(bool on);

// Where one layer's forward pass reads and writes, all float32, strides in elements.
struct ForwardIO {
  // The input x (N, T, F) when the kernel was given W_ih (projected inside the loop), else the gates xg (N, T, G).
  const float* x = nullptr;
  int64_t stride_n = 0, stride_t = 0;  // of x over N and T (0 over T for a repeated input); the last dim contiguous
  float* hs = nullptr;       // (T+1, N, H), hs[0] = h0 already there
  float* cs = nullptr;       // (cs_rows, N, H), cs[0] = c0 already there: T+1 rows with save, else 2 that rotate
  int64_t cs_rows = 2;
  float* gates = nullptr;    // (T, N, G) after the nonlinearities, or null when nothing is saved for a backward
  float* tanh_c = nullptr;   // (T, N, H), or null likewise
  int64_t n = 0, steps = 0;  // H and F are the kernel's, from its weights
};

// One layer's weights packed once per call, then rows [r0, r1) of a batch run through all steps (any thread).
class ForwardKernel {
 public:
  // w_hh (G, H); w_ih_t (F, G) and bias (G,) when the input is projected inline, else null and f = 0.
  ForwardKernel(const float* w_hh, const float* w_ih_t, const float* bias, int64_t h, int64_t f);
  ~ForwardKernel();
  void run(const ForwardIO& io, int64_t r0, int64_t r1) const;

  struct Packed;  // the weights in the kernel's layout (defined in lstm_avx512_forward.cpp)

 private:
  std::unique_ptr<Packed> packed_;
};

// Where one layer's backward pass reads and writes (float32; the saved tensors of a forward with save).
struct BackwardIO {
  const float* gates = nullptr;    // (T, N, G) after the nonlinearities
  const float* tanh_c = nullptr;   // (T, N, H)
  const float* cs = nullptr;       // (T+1, N, H), c_{t-1} of step t at index t
  const float* hs = nullptr;       // (T+1, N, H), h_{t-1} of step t at index t
  const float* grad_hs = nullptr;  // (T+1, N, H): the loss's own gradient at each h (index 0: h0)
  const float* x = nullptr;        // the layer's input x (N, T, F), for W_ih's gradient (features > 0), or null
  int64_t x_stride_n = 0, x_stride_t = 0, features = 0;
  float* d_xg = nullptr;           // (T, N, G): gradient of the pre-activations, written; null: not kept
  float* d_xg_time_sum = nullptr;  // (N, G): its sum over time (the gradient of a repeated input), or null
  float* dh = nullptr;             // (N, H): dL/dh_T on entry, dL/dh0 on return
  float* dc = nullptr;             // (N, H): dL/dc_T on entry, dL/dc0 on return
  int64_t n = 0, steps = 0, h = 0;
};

// One thread's shares of the weight gradients, added to over the rows it runs (zeroed by the caller).
struct BackwardSums {
  float* d_w_hh = nullptr;    // (G, H)
  float* d_w_ih_t = nullptr;  // (F, G), W_ih's gradient transposed, when BackwardIO has x
  float* d_bias = nullptr;    // (G,): of the pre-activations' bias
};

// W_hh packed once per call into 16-column panels; rows [r0, r1) then run back through all steps: per step the
// gates' gradient (16 units a time) and dL/dh_{t-1} = dA W_hh + the loss's own share, 8 rows x 32 columns of
// sums in registers; every 8 steps the weight gradients take that chunk's dA while it is in cache.
class BackwardKernel {
 public:
  BackwardKernel(const float* w_hh, int64_t h);  // w_hh (G, H)
  ~BackwardKernel();
  void run(const BackwardIO& io, int64_t r0, int64_t r1, const BackwardSums& sums) const;

  struct Packed;

 private:
  std::unique_ptr<Packed> packed_;
};

// Rows [p0, p1) of out (P, Q) = a^T b = sum over k of a[k, :]^T b[k, :], for a (K, P) and b (K, Q) with row
// strides lda and ldb (a weight's gradient: a the layer's inputs, b the gradient of its outputs, K = T*N rows).
// Each a[k, p] is broadcast against 32 columns of b[k, :]; out is row-major and contiguous.
void rows_product(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t k, int64_t q, float* out,
                  int64_t p0, int64_t p1);

}  // namespace seqae_avx512
