// The fused LSTM recurrence of lstm_cpu.cpp, for the other sources of the extension (see that file for the
// legend and the layouts).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <vector>

// One layer forward: hs (T+1, N, H), c_T (N, H) and, when `save`, cs (T+1, N, H), gates (T, N, G), tanh_c (T, N, H).
// xg (N, T, G) are the input gates, or with w_ih_t (F, G) and bias (G,) the input x (N, T, F) itself.
std::vector<at::Tensor> lstm_forward(const at::Tensor& xg, const at::Tensor& h0, const at::Tensor& c0,
                                     const at::Tensor& w_hh, bool save, const std::optional<at::Tensor>& w_ih_t,
                                     const std::optional<at::Tensor>& bias);

// One layer backward: d_xg (T, N, G) (undefined, None in Python, unless keep_d_xg), d_h0 (N, H), d_c0 (N, H),
// d_w_hh (G, H), d_w_ih (G, F) (undefined without x, the layer's input (N, T, F) of xg = x W_ih^T + b), d_bias
// (G,) and d_xg's sum over time (N, G) (undefined unless time_sum), from grad_hs (T+1, N, H) and grad_c_last.
std::vector<at::Tensor> lstm_backward(const at::Tensor& grad_hs, const at::Tensor& grad_c_last, const at::Tensor& hs,
                                      const at::Tensor& cs, const at::Tensor& gates, const at::Tensor& tanh_c,
                                      const at::Tensor& w_hh, const std::optional<at::Tensor>& x,
                                      bool keep_d_xg, bool time_sum);

// a^T b for a (K, P) and b (K, Q), the K = T*N rows of a layer's inputs and of its outputs' gradient: a weight's
// gradient, transposed. In 512-bit register blocks for float32 where AVX-512 is on (MKL takes its AVX2 code on
// AMD's CPUs), else at::mm.
at::Tensor rows_product(const at::Tensor& a, const at::Tensor& b);

// Bytes of freed output buffers kept for reuse (0: none, and the pool is emptied); bytes held idle now.
void set_pool_limit(int64_t bytes);
int64_t pool_held();
