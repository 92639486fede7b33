// The rational tanh of the kernels' vector code (tanh8 in lstm_cpu.cpp, tanh16 in avx512_common.h): an odd
// polynomial of degree 13 over an even one of degree 6, the minimax fit Eigen uses; max error 2e-7 on the clamped
// range, beyond which tanh is +-1 in float. 12 multiply-adds and one reciprocal: a shorter dependency chain than
// exp plus a reciprocal.
#pragma once

namespace seqae_tanh {

constexpr float kClamp = 7.99881172180175781f;  // |x| beyond this: tanh(x) rounds to +-1
constexpr int kNumerator = 7, kDenominator = 4;
// tanh(x) = x p(x^2) / q(x^2), coefficients from the highest power down (Horner's order).
constexpr float kP[kNumerator] = {-2.76076847742355e-16f, 2.00018790482477e-13f, -8.60467152213735e-11f,
                                  5.12229709037114e-08f,  1.48572235717979e-05f, 6.37261928875436e-04f,
                                  4.89352455891786e-03f};
constexpr float kQ[kDenominator] = {1.19825839466702e-06f, 1.18534705686654e-04f, 2.26843463243900e-03f,
                                    4.89352518554385e-03f};

}  // namespace seqae_tanh
