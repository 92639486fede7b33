// The extension's Python module: the fused LSTM (lstm_cpu.cpp) and the autoencoder's fused loss
// (autoencoder_loss.cpp). Kept apart so that only this file pays for pybind11's headers.
#include <torch/extension.h>

#include "autoencoder_loss.h"
#include "lstm_avx512.h"
#include "lstm_cpu.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  // The long calls release the GIL, as torch's own operators do, so that Python threads can score batches side by
  // side (seqae._runtime.scoring_pass).
  const auto no_gil = pybind11::call_guard<pybind11::gil_scoped_release>();
  m.def("forward", &lstm_forward, "Fused LSTM recurrence, forward (CPU)", no_gil, pybind11::arg("xg"),
        pybind11::arg("h0"), pybind11::arg("c0"), pybind11::arg("w_hh"), pybind11::arg("save"),
        pybind11::arg("w_ih_t") = pybind11::none(), pybind11::arg("bias") = pybind11::none());
  m.def("backward", &lstm_backward, "Fused LSTM recurrence, backward (CPU)", no_gil, pybind11::arg("grad_hs"),
        pybind11::arg("grad_c_last"), pybind11::arg("hs"), pybind11::arg("cs"), pybind11::arg("gates"),
        pybind11::arg("tanh_c"), pybind11::arg("w_hh"), pybind11::arg("x") = pybind11::none(),
        pybind11::arg("keep_d_xg") = true, pybind11::arg("time_sum") = false);
  m.def("set_pool_limit", &set_pool_limit, "Bytes of freed output buffers the kernel keeps for reuse (0: none)");
  m.def("pool_held", &pool_held, "Bytes of idle buffers held now");
  m.def("rows_product", &rows_product, "a^T b for a (K, P), b (K, Q): a weight's gradient over K rows", no_gil);
  m.def("avx512_available", &seqae_avx512::available, "Whether this build has the AVX-512 kernels");
  m.def("set_avx512", &seqae_avx512::set_enabled, "Use the AVX-512 kernels where built (the default); returns the "
        "previous setting", pybind11::arg("on"));
  pybind11::class_<LossSpec>(m, "LossSpec")
      .def(pybind11::init<bool, bool, double, double, double, int64_t, bool>(), pybind11::arg("variational"),
           pybind11::arg("reverse"), pybind11::arg("beta"), pybind11::arg("logvar_min"), pybind11::arg("logvar_max"),
           pybind11::arg("inline_features"), pybind11::arg("forecast"));
  m.def("loss_forward", &autoencoder_loss_forward, "The default autoencoder's training loss, forward (CPU)", no_gil);
  m.def("loss_backward", &autoencoder_loss_backward, "The default autoencoder's training loss, backward (CPU)",
        no_gil);
}
