// The training loss of the default autoencoder as one forward and one backward call, on the fused LSTM.
//
// Why: with the default architecture (one LSTM layer each side, last-step pooling, RepeatVector decoder) a
// training step of 32 windows spent about as long in the framework around the LSTM kernels as in the kernels:
// some 60 small tensor operations, each dispatched from Python. Here they are dispatched from C++, and the
// backward pass is written out by hand. seqae/nn/fused_loss.py wraps the two calls in one autograd node and
// says what is computed; the module's own forward pass stays the definition, and the tests compare every
// parameter's gradient with it.
//
// Legend: N batch, T time, F features, H encoder units, D decoder units, Z latent size, G = 4H (or 4D) gates.
// Every intermediate sequence is time-major, (T, N, .), as the LSTM kernel makes them.
#include "autoencoder_loss.h"

#include <ATen/ATen.h>

#include "lstm_cpu.h"

namespace {

// The parameters, named, from the flat list (the order of fused_loss._parameters).
struct Params {
  at::Tensor w_ih_e, w_hh_e, b_ih_e, b_hh_e;  // encoder LSTM
  at::Tensor w_l, b_l;                        // linear latent (AE)
  at::Tensor w_m, b_m, w_v, b_v;              // mean and log-variance heads (VAE)
  at::Tensor w_s, b_s;                        // decoder's initial state from z
  at::Tensor w_ih_d, w_hh_d, b_ih_d, b_hh_d;  // decoder LSTM
  at::Tensor w_o, b_o;                        // output head
  at::Tensor w_f, b_f;                        // next-step head on the encoder's outputs (forecast), else undefined
};

Params unpack(const std::vector<at::Tensor>& p, bool variational, bool forecast) {
  const size_t expected = (variational ? 16 : 14) + (forecast ? 2 : 0);
  TORCH_CHECK(p.size() == expected, "params: expected ", expected, " tensors, got ", p.size());
  Params r{p[0], p[1], p[2], p[3]};
  size_t k = 4;
  if (variational) {
    r.w_m = p[4], r.b_m = p[5], r.w_v = p[6], r.b_v = p[7];
    k = 8;
  } else {
    r.w_l = p[4], r.b_l = p[5];
    k = 6;
  }
  r.w_s = p[k], r.b_s = p[k + 1], r.w_ih_d = p[k + 2], r.w_hh_d = p[k + 3], r.b_ih_d = p[k + 4],
  r.b_hh_d = p[k + 5], r.w_o = p[k + 6], r.b_o = p[k + 7];
  if (forecast) {
    r.w_f = p[k + 8], r.b_f = p[k + 9];
  }
  return r;
}

// Positions in the list of saved tensors.
enum Saved { kX, kHsE, kCsE, kGatesE, kTanhE, kHsD, kCsD, kGatesD, kTanhD, kZ, kS, kDiff, kOrder, kReal, kFcDiff,
             kFcCount, kMean, kLogvarRaw, kLogvar, kEps, kStd };

// Gradients of x W^T + b w.r.t. x, W and b, as seqae.nn.fused_lstm._projection_grads: x (M, K), w (G, K),
// grad (M, G) -> (M, K) (undefined unless `input`), (G, K) with the long axis M inside the product, (G,).
std::tuple<at::Tensor, at::Tensor, at::Tensor> projection_grads(const at::Tensor& x, const at::Tensor& w,
                                                                const at::Tensor& grad, bool input = true) {
  return {input ? grad.mm(w) : at::Tensor(), rows_product(x, grad).t(), grad.sum(0)};
}

// Each sequence's encoder output at its own last real step: hs_e (T+1, N, H) -> (N, H).
at::Tensor last_outputs(const at::Tensor& hs_e, const at::Tensor& lens, bool windows) {
  const int64_t t = hs_e.size(0) - 1;
  return windows ? hs_e[t] : hs_e.index({lens, at::arange(hs_e.size(1), lens.options())});
}

}  // namespace

std::tuple<at::Tensor, double, std::vector<at::Tensor>> autoencoder_loss_forward(
    const at::Tensor& x, const at::Tensor& target, const at::Tensor& lengths, const LossSpec& spec,
    const std::vector<at::Tensor>& params) {
  TORCH_CHECK(x.dim() == 3 && lengths.dim() == 1 && lengths.size(0) == x.size(0) && x.device().is_cpu() &&
              lengths.device().is_cpu(), "expected x (N, T, F) and lengths (N,) on the CPU, got ", x.sizes(),
              " and ", lengths.sizes());
  TORCH_CHECK(target.sizes() == x.sizes() && target.device().is_cpu(), "expected target of x's shape ", x.sizes(),
              ", got ", target.sizes());
  const Params p = unpack(params, spec.variational, spec.forecast);
  const int64_t n = x.size(0), t = x.size(1), f = x.size(2), h = p.w_hh_e.size(1), d = p.w_hh_d.size(1);
  const at::Tensor lens = lengths.to(at::kLong);
  const bool windows = lens.min().item<int64_t>() == t;  // all of full length: no gather, no mask
  at::Tensor order = at::empty({0}, lens.options()), real = at::empty({0}, lens.options().dtype(at::kBool));
  if (!windows) {
    const at::Tensor time = at::arange(t, lens.options()).unsqueeze(1);  // (T, 1)
    const at::Tensor row_lens = lens.unsqueeze(0);                       // (1, N)
    real = time < row_lens;                                              // (T, N): real steps
    // Time index, per sequence, of its reversal within its own length (padding stays in place); it is its own
    // inverse, so the same index takes the gradient back.
    order = spec.reverse ? at::where(real, row_lens - 1 - time, time) : time.expand({t, n});
  }
  const at::Tensor x_tm = x.transpose(0, 1).contiguous();  // (T, N, F)
  // The reconstruction's target: x itself unless the encoder reads a masked copy (training/objectives.py).
  const at::Tensor target_tm = target.is_same(x) ? x_tm : target.transpose(0, 1).contiguous();
  const at::Tensor zeros = at::zeros({n, h}, x.options());
  std::vector<at::Tensor> enc;
  if (f <= spec.inline_features) {  // projected inside the kernel's loop, as run_lstm does
    enc = lstm_forward(x_tm.transpose(0, 1), zeros, zeros, p.w_hh_e, true, p.w_ih_e.t().contiguous(),
                       p.b_ih_e + p.b_hh_e);                                                 // hs (T+1, N, H)
  } else {
    const at::Tensor xg_e = at::addmm(p.b_ih_e + p.b_hh_e, x_tm.view({t * n, f}), p.w_ih_e.t()).view({t, n, -1});
    enc = lstm_forward(xg_e.transpose(0, 1), zeros, zeros, p.w_hh_e, true, std::nullopt, std::nullopt);
  }
  const at::Tensor h_last = last_outputs(enc[0], lens, windows);  // (N, H)
  at::Tensor z, mean, logvar_raw, logvar, eps, std_;
  if (spec.variational) {
    mean = at::addmm(p.b_m, h_last, p.w_m.t());                     // (N, Z)
    logvar_raw = at::addmm(p.b_v, h_last, p.w_v.t());
    logvar = logvar_raw.clamp(spec.logvar_min, spec.logvar_max);
    eps = at::randn_like(mean);                                     // as GaussianLatent draws it
    std_ = at::exp(logvar * 0.5);
    z = mean + std_ * eps;                                          // (N, Z)
  } else {
    z = at::addmm(p.b_l, h_last, p.w_l.t());                        // (N, Z)
  }
  const at::Tensor s = at::tanh(at::addmm(p.b_s, z, p.w_s.t()));   // (N, 2D): [h0 | c0], as initial_state
  const at::Tensor xg_d = at::addmm(p.b_ih_d + p.b_hh_d, z, p.w_ih_d.t());  // (N, 4D), the same at every step
  std::vector<at::Tensor> dec = lstm_forward(xg_d.unsqueeze(1).expand({-1, t, -1}), s.narrow(1, 0, d).contiguous(),
                                             s.narrow(1, d, d).contiguous(), p.w_hh_d, true, std::nullopt,
                                             std::nullopt);  // hs (T+1, N, D)
  const at::Tensor y = at::addmm(p.b_o, dec[0].narrow(0, 1, t).reshape({t * n, d}), p.w_o.t()).view({t, n, f});
  at::Tensor diff;  // (T, N, F): reconstruction - target, in x's time order, zero at padded steps
  double count;
  if (windows) {
    diff = (spec.reverse ? y.flip(0) : y) - target_tm;
    count = static_cast<double>(n * t * f);
  } else {
    diff = y.gather(0, order.unsqueeze(2).expand({t, n, f})) - target_tm;  // reversed within each length
    diff = at::where(real.unsqueeze(2), diff, 0.0);                    // padded steps: no value, no gradient
    count = static_cast<double>(lens.sum().item<int64_t>() * f);
  }
  at::Tensor loss = diff.pow(2).sum() / count;  // masked_mse
  // Next-step head (forecast_loss): the encoder's output at step t predicts target step t + 1, for the steps with a
  // successor within the sequence's length; its mean squared error is added to the loss.
  at::Tensor fc_diff = at::empty({0}, x.options()), fc_count = at::zeros({}, x.options().dtype(at::kDouble));
  if (spec.forecast && t > 1) {
    const at::Tensor fc = at::addmm(p.b_f, enc[0].narrow(0, 1, t - 1).reshape({(t - 1) * n, h}), p.w_f.t())
                              .view({t - 1, n, f});                                           // (T-1, N, F)
    fc_diff = fc - target_tm.narrow(0, 1, t - 1);
    double predicted = static_cast<double>((t - 1) * n * f);
    if (!windows) {
      fc_diff = at::where(real.narrow(0, 1, t - 1).unsqueeze(2), fc_diff, 0.0);  // step t + 1 real: t + 1 < length
      predicted = static_cast<double>((lens - 1).clamp_min(0).sum().item<int64_t>() * f);
    }
    fc_count.fill_(predicted);
    if (predicted > 0) {
      loss = loss + fc_diff.pow(2).sum() / predicted;
    }
  }
  std::vector<at::Tensor> saved{x_tm, enc[0], enc[2], enc[3], enc[4], dec[0], dec[2], dec[3], dec[4], z, s, diff,
                                order, real, fc_diff, fc_count};
  if (spec.variational) {
    const at::Tensor kl = at::sum(1.0 + logvar - mean.pow(2) - logvar.exp()) * -0.5;  // gaussian_kl, batch sum
    loss = loss + kl * spec.beta / count;
    saved.insert(saved.end(), {mean, logvar_raw, logvar, eps, std_});
  }
  return {loss, count, saved};
}

std::vector<at::Tensor> autoencoder_loss_backward(const at::Tensor& grad, const at::Tensor& lengths,
                                                  const LossSpec& spec, double count,
                                                  const std::vector<at::Tensor>& params,
                                                  const std::vector<at::Tensor>& saved) {
  const Params p = unpack(params, spec.variational, spec.forecast);
  TORCH_CHECK(saved.size() == (spec.variational ? 21u : 16u), "saved: got ", saved.size(), " tensors");
  const at::Tensor &x_tm = saved[kX], &hs_e = saved[kHsE], &hs_d = saved[kHsD], &z = saved[kZ], &s = saved[kS];
  const int64_t t = x_tm.size(0), n = x_tm.size(1), f = x_tm.size(2), d = p.w_hh_d.size(1);
  const bool windows = saved[kOrder].numel() == 0;
  const at::Tensor lens = lengths.to(at::kLong);
  // Head and decoder. d(loss)/d(diff) = 2 diff / count; y is diff's time order undone.
  const at::Tensor g_diff = saved[kDiff] * (grad * 2.0 / count);  // (T, N, F)
  at::Tensor g_y;
  if (windows) {
    g_y = spec.reverse ? g_diff.flip(0) : g_diff;
  } else {
    g_y = g_diff.gather(0, saved[kOrder].unsqueeze(2).expand({t, n, f}));  // the reversal is its own inverse
  }
  auto [g_rows_d, dw_o, db_o] = projection_grads(hs_d.narrow(0, 1, t).reshape({t * n, d}), p.w_o,
                                                 g_y.reshape({t * n, f}));  // (T*N, D), (F, D), (F,)
  const at::Tensor g_hs_d = at::zeros_like(hs_d);  // (T+1, N, D); nothing reads h0
  g_hs_d.narrow(0, 1, t).copy_(g_rows_d.view({t, n, d}));
  // Decoder: d_xg is only needed summed over time (its input is repeated), so the kernel keeps no (T, N, 4D) copy.
  const std::vector<at::Tensor> bd = lstm_backward(g_hs_d, at::zeros({n, d}, hs_d.options()), hs_d, saved[kCsD],
                                                   saved[kGatesD], saved[kTanhD], p.w_hh_d, std::nullopt, false, true);
  auto [g_z_input, dw_ih_d, db_d] = projection_grads(z, p.w_ih_d, bd[6]);  // bd[6]: d_xg summed over time
  // Initial state s = tanh(z W_s^T + b_s) = [h0 | c0].
  const at::Tensor g_pre = at::cat({bd[1], bd[2]}, 1) * (1.0 - s * s);  // (N, 2D)
  auto [g_z_state, dw_s, db_s] = projection_grads(z, p.w_s, g_pre);
  const at::Tensor g_z = g_z_input + g_z_state;  // (N, Z)
  const at::Tensor h_last = last_outputs(hs_e, lens, windows);  // (N, H)
  std::vector<at::Tensor> latent_grads;
  at::Tensor g_h;  // (N, H)
  if (spec.variational) {
    const at::Tensor &mean = saved[kMean], &logvar_raw = saved[kLogvarRaw], &logvar = saved[kLogvar];
    const at::Tensor c = grad * spec.beta / count;  // weight of the KL term
    const at::Tensor g_mean = g_z + c * mean;       // dKL/dmean = mean
    // z = mean + exp(logvar / 2) eps; the clamp passes the gradient only inside its range.
    const at::Tensor g_logvar = (g_z * saved[kEps] * 0.5 * saved[kStd] + c * 0.5 * (logvar.exp() - 1.0)) *
                                ((logvar_raw >= spec.logvar_min) & (logvar_raw <= spec.logvar_max));
    auto [g_h_mean, dw_m, db_m] = projection_grads(h_last, p.w_m, g_mean);
    auto [g_h_logvar, dw_v, db_v] = projection_grads(h_last, p.w_v, g_logvar);
    latent_grads = {dw_m, db_m, dw_v, db_v};
    g_h = g_h_mean + g_h_logvar;
  } else {
    auto [g_h_l, dw_l, db_l] = projection_grads(h_last, p.w_l, g_z);
    latent_grads = {dw_l, db_l};
    g_h = g_h_l;
  }
  // Encoder: the latent reads its last output, the next-step head (if any) every output but the last step's.
  at::Tensor g_hs_e = at::zeros_like(hs_e);  // (T+1, N, H)
  std::vector<at::Tensor> forecast_grads;
  if (spec.forecast) {
    const double predicted = saved[kFcCount].item<double>();
    if (predicted > 0) {
      const int64_t h = hs_e.size(2);
      const at::Tensor g_fc = saved[kFcDiff] * (grad * 2.0 / predicted);  // (T-1, N, F), zero where masked
      auto [g_rows_e, dw_f, db_f] = projection_grads(hs_e.narrow(0, 1, t - 1).reshape({(t - 1) * n, h}), p.w_f,
                                                     g_fc.reshape({(t - 1) * n, f}));  // ((T-1)N, H), (F, H), (F,)
      g_hs_e.narrow(0, 1, t - 1).copy_(g_rows_e.view({t - 1, n, h}));
      forecast_grads = {dw_f, db_f};
    } else {  // nothing to predict (every sequence one step long): the head gets no gradient
      forecast_grads = {at::zeros_like(p.w_f), at::zeros_like(p.b_f)};
    }
  }
  if (windows) {
    g_hs_e[t].add_(g_h);
  } else {
    g_hs_e.index_put_({lens, at::arange(n, lens.options())}, g_h, /*accumulate=*/true);
  }
  // With the input given, the kernel returns W_ih's and the bias's gradients itself and keeps no d_xg.
  const std::vector<at::Tensor> be = lstm_backward(g_hs_e, at::zeros_like(g_h), hs_e, saved[kCsE], saved[kGatesE],
                                                   saved[kTanhE], p.w_hh_e, x_tm.transpose(0, 1), false, false);
  std::vector<at::Tensor> grads{be[4], be[3], be[5], be[5]};
  grads.insert(grads.end(), latent_grads.begin(), latent_grads.end());
  grads.insert(grads.end(), {dw_s, db_s, dw_ih_d, bd[3], db_d, db_d, dw_o, db_o});
  grads.insert(grads.end(), forecast_grads.begin(), forecast_grads.end());
  return grads;
}
