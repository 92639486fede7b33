// The LSTM forward step fused into registers, for CPUs with AVX-512 (float32 only): see lstm_avx512.cpp.
// Legend and layouts as in lstm_cpu.cpp: N batch, T time, F input features, H hidden units, G = 4H gates in
// torch's order [i, f, g, o]; every buffer written is time-major.
#pragma once

#include <cstdint>
#include <memory>

namespace seqae_avx512 {

// Whether this build has the AVX-512 kernel (the extension is compiled with -mavx512f where torch found it).
bool available();

// Whether lstm_cpu.cpp takes it: available() and not switched off by set_enabled(false), which the tests use to
// run the portable path on the same machine. Returns the previous setting.
bool enabled();
bool set_enabled(bool on);

// Where one layer's forward pass reads and writes, all float32, strides in elements.
struct ForwardIO {
  const float* x = nullptr;  // the input x (N, T, F) when projected inline (features > 0), else the gates xg (N, T, G)
  int64_t stride_n = 0, stride_t = 0;  // of x over N and T (0 over T for a repeated input); the last dim contiguous
  int64_t features = 0;      // F when the input is projected inside the loop, else 0
  float* hs = nullptr;       // (T+1, N, H), hs[0] = h0 already there
  float* cs = nullptr;       // (cs_rows, N, H), cs[0] = c0 already there: T+1 rows with save, else 2 that rotate
  int64_t cs_rows = 2;
  float* gates = nullptr;    // (T, N, G) after the nonlinearities, or null when nothing is saved for a backward
  float* tanh_c = nullptr;   // (T, N, H), or null likewise
  int64_t n = 0, steps = 0, h = 0;
};

// One layer's weights packed once per call, then rows [r0, r1) of a batch run through all steps (any thread).
class ForwardKernel {
 public:
  // w_hh (G, H); w_ih_t (F, G) and bias (G,) when the input is projected inline, else null and f = 0.
  ForwardKernel(const float* w_hh, const float* w_ih_t, const float* bias, int64_t h, int64_t f);
  ~ForwardKernel();
  void run(const ForwardIO& io, int64_t r0, int64_t r1) const;

  struct Packed;  // the weights in the kernel's layout (defined in lstm_avx512.cpp)

 private:
  std::unique_ptr<Packed> packed_;
};

}  // namespace seqae_avx512
