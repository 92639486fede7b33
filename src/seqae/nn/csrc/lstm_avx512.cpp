// Whether the AVX-512 kernels run (lstm_avx512_forward.cpp, lstm_avx512_backward.cpp, row_products_avx512.cpp),
// and their stand-ins in a build without AVX-512, where lstm_cpu.cpp keeps its portable path.
#include "lstm_avx512.h"

#include <atomic>
#include <stdexcept>

namespace seqae_avx512 {

namespace {
std::atomic<bool> switched_on{true};
}  // namespace

bool enabled() { return available() && switched_on.load(std::memory_order_relaxed); }

bool set_enabled(bool on) { return switched_on.exchange(on); }

#if defined(__AVX512F__)

bool available() { return true; }

#else

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

ForwardKernel::~ForwardKernel() = default;
BackwardKernel::~BackwardKernel() = default;

#endif

}  // namespace seqae_avx512
