// The training loss of the default autoencoder, forward and backward, on the fused LSTM (autoencoder_loss.cpp).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <tuple>
#include <vector>

// What the loss computes, besides the shapes it reads from its inputs.
struct LossSpec {
  bool variational;         // Gaussian latent (sample, KL) instead of a linear one
  bool reverse;             // the decoder emits the last step first (reverse_decoding)
  double beta;              // KL weight (VAE only)
  double logvar_min;        // the clamp of the VAE's log-variance (seqae.nn.latent)
  double logvar_max;
  int64_t inline_features;  // inputs of at most this many features are projected inside the LSTM kernel's loop
  bool forecast;            // a next-step head on the encoder's outputs, its error added (forecast_loss)
};

// x (N, T, F) zero-padded, the encoder's input; target (N, T, F) what the decoder must reconstruct (x itself, or
// the clean sequences when x has masked steps); lengths (N,) int64 on the CPU, params in the order of
// fused_loss._parameters. Returns the scalar loss, the number of real elements it is averaged over, and the
// tensors the backward needs.
std::tuple<at::Tensor, double, std::vector<at::Tensor>> autoencoder_loss_forward(
    const at::Tensor& x, const at::Tensor& target, const at::Tensor& lengths, const LossSpec& spec,
    const std::vector<at::Tensor>& params);

// The gradients of every parameter, in the order of params, given d(loss) `grad` (a scalar tensor).
std::vector<at::Tensor> autoencoder_loss_backward(const at::Tensor& grad, const at::Tensor& lengths,
                                                  const LossSpec& spec, double count,
                                                  const std::vector<at::Tensor>& params,
                                                  const std::vector<at::Tensor>& saved);
