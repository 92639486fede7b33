"""The fused CPU LSTM kernel against torch's nn.LSTM: same outputs, same gradients, same fallback contract."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from seqae.nn import fused_lstm
from seqae.nn.fused_lstm import InputProjection, LSTMRecurrence, fused_lstm_available, run_lstm

needs_kernel = pytest.mark.skipif(not fused_lstm_available(),
                                  reason="the fused CPU LSTM kernel could not be built here (no C++ compiler?)")

TOL = {torch.float64: 1e-10, torch.float32: 2e-5}


@pytest.mark.skipif(os.environ.get("SEQAE_REQUIRE_FUSED_LSTM", "") != "1",
                    reason="SEQAE_REQUIRE_FUSED_LSTM=1 not set: where the kernel cannot be built, nn.LSTM is used")
def test_the_kernel_builds_where_it_is_required():
    """CI sets SEQAE_REQUIRE_FUSED_LSTM=1: a kernel that stops compiling must fail the run, not skip its tests."""
    assert fused_lstm_available()


@pytest.fixture(params=["portable", "avx512"])
def kernel_path(request):
    """Run a test on the kernel's portable step (AVX2 or scalar) and, where this build has it, on its AVX-512 step
    (the default there, float32 only): CI's machine has AVX-512, and the portable step must stay tested too."""
    ext = fused_lstm._extension()
    if ext is None:
        pytest.skip("the fused CPU LSTM kernel could not be built here")
    if request.param == "avx512" and not ext.avx512_available():
        pytest.skip("this build of the kernel has no AVX-512 step (the CPU lacks AVX-512)")
    previous = ext.set_avx512(request.param == "avx512")
    yield request.param
    ext.set_avx512(previous)


def _grads(out, state, inputs, lstm, weight):
    loss = (out * weight).sum() + 0.3 * state[0].sum() + 0.7 * state[1].sum()
    return torch.autograd.grad(loss, inputs + list(lstm.parameters()))


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n, t, f, h, layers, with_state", [
    # F <= 16 is projected inside the kernel's loop, wider inputs beforehand: (4, 6, 20, 24, 2) has both.
    # Portable float32 step: up to 64 rows per thread the product runs on the kernel's own panels (4H and H not
    # multiples of 16 in (4, 7, 3, 5) and (9, 5, 8, 100); rows not a multiple of 6 in most), above on BLAS (150
    # rows). AVX-512 step: blocks of 16 units (H = 5, 24 and 100 end in a part-block), 6 rows (tails of 1 to 5)
    # and groups of 48 rows (53 and 150 rows make several), F = 16 at the inline limit.
    (4, 7, 3, 5, 1, True), (1, 1, 2, 3, 1, False), (3, 9, 2, 4, 2, True), (5, 30, 1, 32, 1, False),
    (4, 6, 20, 24, 2, True), (9, 5, 8, 100, 1, True), (12, 4, 2, 16, 1, False), (150, 5, 2, 20, 1, True),
    (53, 3, 16, 33, 1, True)])
def test_matches_nn_lstm_outputs_and_gradients(dtype, n, t, f, h, layers, with_state, kernel_path):
    torch.manual_seed(0)
    lstm = nn.LSTM(f, h, num_layers=layers, batch_first=True).to(dtype)
    x = torch.randn(n, t, f, dtype=dtype, requires_grad=True)
    state = tuple(torch.randn(layers, n, h, dtype=dtype, requires_grad=True) for _ in range(2)) if with_state \
        else None
    inputs = [x] + (list(state) if with_state else [])
    ref_out, ref_state = lstm(x, state)
    out, new_state = run_lstm(lstm, x, state)
    assert out.shape == ref_out.shape == (n, t, h)
    assert new_state[0].shape == new_state[1].shape == (layers, n, h)
    tol = TOL[dtype]
    torch.testing.assert_close(out, ref_out, atol=tol, rtol=tol)
    torch.testing.assert_close(new_state[0], ref_state[0], atol=tol, rtol=tol)
    torch.testing.assert_close(new_state[1], ref_state[1], atol=tol, rtol=tol)
    weight = torch.randn_like(ref_out)
    for ours, ref in zip(_grads(out, new_state, inputs, lstm, weight), _grads(ref_out, ref_state, inputs, lstm, weight)):
        torch.testing.assert_close(ours, ref, atol=10 * tol, rtol=10 * tol)


@pytest.fixture
def threads():
    """Run a test under a given torch thread count, restoring the previous one."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rows_split_over_threads_match_nn_lstm_and_one_thread(dtype, threads, kernel_path):
    """The kernel gives each thread a block of rows (at least 8): 37 rows over 3 threads make uneven blocks.
    Outputs, final state and gradients equal nn.LSTM's and the single-thread run's. The weights' gradients are
    sums over all rows, which the AVX-512 step adds up per thread and then across threads: in float32 they agree
    to float rounding of that other order, not bit for bit."""
    torch.manual_seed(2)
    n, t, f, h = 37, 12, 3, 16
    lstm = nn.LSTM(f, h, batch_first=True).to(dtype)
    x = torch.randn(n, t, f, dtype=dtype, requires_grad=True)
    state = tuple(torch.randn(1, n, h, dtype=dtype, requires_grad=True) for _ in range(2))
    weight = torch.randn(n, t, h, dtype=dtype)
    results = {}
    for count in (1, 3):
        threads(count)
        out, new_state = run_lstm(lstm, x, state)
        with torch.inference_mode():
            inferred, _ = run_lstm(lstm, x.detach(), tuple(s.detach() for s in state))
        results[count] = (out, *new_state, inferred, *_grads(out, new_state, [x, *state], lstm, weight))
    ref_out, ref_state = lstm(x, state)
    reference = (ref_out, *ref_state, ref_out, *_grads(ref_out, ref_state, [x, *state], lstm, weight))
    tol = TOL[dtype]
    per_row = 7                  # out, h_n, c_n, inferred, and the gradients of x, h0, c0: each row's own
    for i, (one, split, ref) in enumerate(zip(results[1], results[3], reference)):
        close = tol / 10 if i < per_row or dtype == torch.float64 else tol
        torch.testing.assert_close(split, one, atol=close, rtol=close)
        torch.testing.assert_close(split.detach(), ref.detach(), atol=10 * tol, rtol=10 * tol)


@needs_kernel
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
def test_repeated_input_equals_the_expanded_input(dtype, tol, kernel_path):
    """steps=T projects the input once and reads it T times (a stride of 0 over T); values and gradients equal
    feeding it T times, also under inference_mode (bit for bit in float64; float32 inference projects in the
    blocks of seqae.nn.linear, which round as a product of their own shape does)."""
    torch.manual_seed(1)
    lstm = nn.LSTM(6, 8, num_layers=2, batch_first=True).to(dtype)
    z = torch.randn(3, 6, dtype=dtype, requires_grad=True)
    out, (h_n, c_n) = run_lstm(lstm, z, None, steps=11)
    ref, (ref_h, ref_c) = lstm(z.unsqueeze(1).expand(-1, 11, -1))
    torch.testing.assert_close(out, ref, atol=tol / 100, rtol=tol)
    torch.testing.assert_close(c_n, ref_c, atol=tol / 100, rtol=tol)
    with torch.inference_mode():
        exact = 0 if dtype == torch.float64 else tol / 100
        torch.testing.assert_close(run_lstm(lstm, z, None, steps=11)[0], out.detach(), atol=exact, rtol=exact)
    g = torch.autograd.grad(out.square().sum() + h_n.sum(), z)[0]
    g_ref = torch.autograd.grad(ref.square().sum() + ref_h.sum(), z)[0]
    torch.testing.assert_close(g, g_ref, atol=tol / 100, rtol=tol)


@needs_kernel
def test_gradcheck_of_the_recurrence():
    torch.manual_seed(2)
    n, t, h = 2, 4, 3
    args = (torch.randn(n, t, 4 * h, dtype=torch.float64, requires_grad=True),
            torch.randn(n, h, dtype=torch.float64, requires_grad=True),
            torch.randn(n, h, dtype=torch.float64, requires_grad=True),
            torch.randn(4 * h, h, dtype=torch.float64, requires_grad=True))
    assert torch.autograd.gradcheck(LSTMRecurrence.apply, args)


@needs_kernel
def test_gradcheck_of_the_recurrence_with_the_input_projected_inline():
    """Few features: x itself goes into the kernel with W_ih and the bias; gradients of all six inputs."""
    torch.manual_seed(4)
    n, t, f, h = 3, 5, 2, 4
    args = (torch.randn(n, t, f, dtype=torch.float64), torch.randn(n, h, dtype=torch.float64),
            torch.randn(n, h, dtype=torch.float64), 0.5 * torch.randn(4 * h, h, dtype=torch.float64),
            0.5 * torch.randn(4 * h, f, dtype=torch.float64), 0.1 * torch.randn(4 * h, dtype=torch.float64))
    args = tuple(a.requires_grad_() for a in args)
    assert torch.autograd.gradcheck(lambda *a: LSTMRecurrence.apply(*a), args)


def test_gradcheck_of_the_input_projection():
    torch.manual_seed(3)
    args = (torch.randn(7, 3, dtype=torch.float64, requires_grad=True),
            torch.randn(8, 3, dtype=torch.float64, requires_grad=True),
            torch.randn(8, dtype=torch.float64, requires_grad=True))
    assert torch.autograd.gradcheck(InputProjection.apply, args)
    torch.testing.assert_close(InputProjection.apply(*args), torch.nn.functional.linear(*args))


@needs_kernel
def test_nan_in_the_input_stays_nan(kernel_path):
    """The kernel's clamps must not turn a NaN into a finite value: the training loop relies on seeing it."""
    lstm = nn.LSTM(2, 4, batch_first=True)
    x = torch.zeros(2, 5, 2)
    x[0, 2, 1] = float("nan")
    out, _ = run_lstm(lstm, x)
    assert torch.isnan(out[0, 2:]).all()
    assert torch.isfinite(out[0, :2]).all() and torch.isfinite(out[1]).all()


@needs_kernel
@pytest.mark.parametrize("grad_off", [torch.inference_mode, torch.no_grad])
def test_without_autograd_nothing_is_saved_and_the_values_are_the_training_paths(grad_off, kernel_path,
                                                                                 monkeypatch):
    """Without a backward to come the kernel keeps two cell-state rows instead of all T+1 and no gates, although
    the parameters require grad (scoring once saved everything): same values."""
    lstm = nn.LSTM(3, 5, batch_first=True)
    x = torch.randn(4, 6, 3)
    saves = []
    ext = fused_lstm._extension()

    class Recorder:            # the real kernel, with the `save` argument of each forward call noted
        def __getattr__(self, name):
            return getattr(ext, name)

        def forward(self, *args):
            saves.append(args[4])
            return ext.forward(*args)

    monkeypatch.setattr(fused_lstm, "_extension", lambda: Recorder())
    with grad_off():
        fast, (_, fast_c) = run_lstm(lstm, x)
        fast_rep, _ = run_lstm(lstm, x[:, 0], steps=6)
    assert saves == [False, False]
    slow, (_, slow_c) = run_lstm(lstm, x)
    slow_rep, _ = run_lstm(lstm, x[:, 0], steps=6)
    assert saves[2:] == [True, True]
    assert slow.requires_grad and not fast.requires_grad
    torch.testing.assert_close(fast, slow, atol=0, rtol=0)
    torch.testing.assert_close(fast_c, slow_c, atol=0, rtol=0)
    torch.testing.assert_close(fast_rep, slow_rep, atol=0, rtol=0)


@needs_kernel
def test_kernel_rejects_mismatched_shapes_with_a_message():
    h0 = c0 = torch.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"xg: expected 4H = 12 input gates, got 8"):
        LSTMRecurrence.apply(torch.zeros(2, 3, 8), h0, c0, torch.zeros(12, 3))
    with pytest.raises(RuntimeError, match=r"w_hh: expected \(4H, H\)"):
        LSTMRecurrence.apply(torch.zeros(2, 3, 12), h0, c0, torch.zeros(10, 3))
    with pytest.raises(RuntimeError, match=r"w_ih_t: expected contiguous \(F, 4H\) = \(5, 12\)"):
        LSTMRecurrence.apply(torch.zeros(2, 3, 5), h0, c0, torch.zeros(12, 3), torch.zeros(12, 4), torch.zeros(12))
    with pytest.raises(RuntimeError, match=r"bias: expected contiguous \(4H,\)"):
        LSTMRecurrence.apply(torch.zeros(2, 3, 5), h0, c0, torch.zeros(12, 3), torch.zeros(12, 5), torch.zeros(11))


def test_switched_off_by_environment_uses_nn_lstm_exactly(monkeypatch):
    monkeypatch.setenv("SEQAE_FUSED_LSTM", "0")
    fused_lstm._extension.cache_clear()
    try:
        assert not fused_lstm_available()
        lstm = nn.LSTM(3, 4, batch_first=True)
        x = torch.randn(2, 5, 3)
        out, _ = run_lstm(lstm, x)
        torch.testing.assert_close(out, lstm(x)[0], atol=0, rtol=0)
        rep, _ = run_lstm(lstm, x[:, 0], steps=5)
        torch.testing.assert_close(rep, lstm(x[:, :1].expand(-1, 5, -1))[0], atol=0, rtol=0)
    finally:
        monkeypatch.delenv("SEQAE_FUSED_LSTM")
        fused_lstm._extension.cache_clear()


def test_a_failed_build_warns_and_falls_back(monkeypatch, tmp_path, caplog):
    """No compiler (simulated: the build raises as torch's loader does) -> one warning naming why, nn.LSTM used.
    With nothing built yet in the extension folder, the half-minute build is announced first."""
    from torch.utils import cpp_extension

    def no_compiler(**kwargs):
        assert kwargs["build_directory"].startswith(str(tmp_path))
        raise RuntimeError("Error building extension 'seqae_lstm_cpu': c++: command not found")

    monkeypatch.setattr(cpp_extension, "load", no_compiler)
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    fused_lstm._extension.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="command not found.*nn.LSTM"):
            assert not fused_lstm_available()
        assert "building the fused CPU LSTM kernel" in caplog.text
        lstm = nn.LSTM(2, 3, batch_first=True)
        x = torch.randn(2, 4, 2)
        torch.testing.assert_close(run_lstm(lstm, x)[0], lstm(x)[0], atol=0, rtol=0)
    finally:
        monkeypatch.undo()
        fused_lstm._extension.cache_clear()


def test_repeated_input_must_be_two_dimensional():
    with pytest.raises(ValueError, match=r"repeated input must be \(N, F\)"):
        run_lstm(nn.LSTM(2, 3, batch_first=True), torch.zeros(2, 4, 2), steps=4)


@needs_kernel
def test_the_buffer_pool_reuses_freed_outputs_without_mixing_them_up():
    """Freed outputs go back to the kernel's pool and come out again for the next call of the same size; a live
    output is never handed out twice, and results are those of a run without the pool."""
    ext = fused_lstm._extension()
    torch.manual_seed(0)
    lstm = nn.LSTM(2, 8, batch_first=True)
    x1, x2 = torch.randn(6, 5, 2), torch.randn(6, 5, 2)
    try:
        ext.set_pool_limit(0)
        assert ext.pool_held() == 0
        with torch.inference_mode():
            want1, want2 = run_lstm(lstm, x1)[0].clone(), run_lstm(lstm, x2)[0].clone()
        ext.set_pool_limit(64 << 20)
        with torch.inference_mode():
            out1 = run_lstm(lstm, x1)[0]                       # kept alive while the next call runs
            out2 = run_lstm(lstm, x2)[0]
            torch.testing.assert_close(out1, want1, rtol=0, atol=0)
            torch.testing.assert_close(out2, want2, rtol=0, atol=0)
            del out1, out2
            held = ext.pool_held()
            assert held > 0                                    # the outputs' buffers came back
            again = run_lstm(lstm, x1)[0]
            assert ext.pool_held() < held                      # and were taken again
            torch.testing.assert_close(again, want1, rtol=0, atol=0)
        ext.set_pool_limit(0)
        assert ext.pool_held() == 0                            # a limit of 0 frees every idle buffer
    finally:
        ext.set_pool_limit(64 << 20)


@needs_kernel
def test_backward_sums_equal_those_of_the_kept_input_gradient(kernel_path):
    """Given x, the backward returns W_ih's and the bias's gradients and d_xg's sum over time itself; they equal
    what follows from the full d_xg, and asking it not to keep d_xg (the fused loss) changes none of them."""
    torch.manual_seed(5)
    n, t, f, h = 21, 13, 5, 20          # 21 rows: blocks of 8 with a tail; 13 steps: chunks of 8 with a tail
    x = torch.randn(n, t, f).transpose(0, 1).contiguous().transpose(0, 1)          # time-major, as run_lstm has it
    w_hh, w_ih, bias = 0.3 * torch.randn(4 * h, h), 0.3 * torch.randn(4 * h, f), 0.1 * torch.randn(4 * h)
    zeros = torch.zeros(n, h)
    ext = fused_lstm._extension()
    hs, _, cs, gates, tanh_c = ext.forward(x, zeros, zeros, w_hh, True, w_ih.t().contiguous(), bias)
    grad_hs, grad_c = torch.randn_like(hs), torch.randn(n, h)
    kept = ext.backward(grad_hs, grad_c, hs, cs, gates, tanh_c, w_hh, x=x, keep_d_xg=True, time_sum=True)
    d_xg, d_w_ih, d_bias, time_sum = kept[0], kept[4], kept[5], kept[6]
    rows = d_xg.reshape(t * n, 4 * h)
    torch.testing.assert_close(d_w_ih, rows.t().mm(x.transpose(0, 1).reshape(t * n, f)), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(d_bias, rows.sum(0), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(time_sum, d_xg.sum(0), atol=1e-5, rtol=1e-5)
    lean = ext.backward(grad_hs, grad_c, hs, cs, gates, tanh_c, w_hh, x=x, keep_d_xg=False, time_sum=True)
    assert lean[0] is None
    for full, without in zip(kept[1:], lean[1:]):
        torch.testing.assert_close(without, full, atol=0, rtol=0)


@needs_kernel
@pytest.mark.parametrize("k, p, q", [(5, 3, 7), (600, 13, 40), (257, 100, 400), (0, 4, 8), (31, 8, 16), (64, 17, 33)])
def test_rows_product_is_a_transposed_product_over_rows(k, p, q, kernel_path):
    """a^T b over K rows, the weight gradients' kernel: row blocks of 12, 8 and 4 with single-row tails, 32-column
    slices with part-filled tails and a last part of at most 16 columns on its own (Q = 400, 33), passes of 256
    rows that add on (K = 257, 600), and K = 0 giving zeros."""
    torch.manual_seed(k + p + q)
    a, b = torch.randn(k, p), torch.randn(k, q)
    out = fused_lstm._extension().rows_product(a, b)
    assert out.shape == (p, q)
    torch.testing.assert_close(out, a.double().t().mm(b.double()).float(), atol=1e-4, rtol=1e-5)


@needs_kernel
def test_rows_product_of_strided_or_double_inputs_takes_the_generic_product():
    a, b = torch.randn(40, 6, 3)[:, :, 0], torch.randn(40, 9)      # a's rows not contiguous
    torch.testing.assert_close(fused_lstm._extension().rows_product(a, b), a.t().mm(b))
    a64, b64 = torch.randn(40, 6, dtype=torch.float64), torch.randn(40, 9, dtype=torch.float64)
    torch.testing.assert_close(fused_lstm._extension().rows_product(a64, b64), a64.t().mm(b64), atol=0, rtol=0)
    with pytest.raises(RuntimeError, match=r"rows_product: expected \(K, P\) and \(K, Q\)"):
        fused_lstm._extension().rows_product(torch.zeros(3, 2), torch.zeros(4, 2))


# Run in a child process: a second build of the extension cannot be imported beside the first (pybind11 refuses to
# register its LossSpec type twice).
_AVX2_BUILD = textwrap.dedent("""
    import sys, torch
    from torch import nn
    from torch.utils import cpp_extension
    from seqae.nn import kernels
    flags, ldflags = kernels._compiler_flags("avx2")
    ext = cpp_extension.load(name="seqae_lstm_cpu_avx2_check", sources=kernels._SOURCES, extra_cflags=flags,
                             extra_ldflags=ldflags, build_directory=sys.argv[1], verbose=False)
    assert not ext.avx512_available()
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 20, batch_first=True)
    x = torch.randn(9, 7, 3, requires_grad=True)
    w_hh, w_ih, b = lstm.weight_hh_l0, lstm.weight_ih_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0
    z = torch.zeros(9, 20)
    hs, c_last, cs, gates, tanh_c = ext.forward(x.detach().transpose(0, 1).contiguous().transpose(0, 1), z, z,
                                                w_hh.detach(), True, w_ih.detach().t().contiguous(), b.detach())
    ref, _ = lstm(x)
    torch.testing.assert_close(hs[1:].transpose(0, 1), ref.detach(), atol=2e-6, rtol=2e-5)
    grad = torch.randn(9, 7, 20)
    want = torch.autograd.grad(ref, [w_hh, w_ih, lstm.bias_ih_l0], grad)
    grad_hs = torch.cat([torch.zeros(1, 9, 20), grad.transpose(0, 1)]).contiguous()
    _, _, _, d_w_hh, d_w_ih, d_bias, _ = ext.backward(grad_hs, z, hs, cs, gates, tanh_c, w_hh.detach(),
                                                      x=x.detach(), keep_d_xg=False)
    for got, ref_grad in zip((d_w_hh, d_w_ih, d_bias), want):
        torch.testing.assert_close(got, ref_grad, atol=2e-5, rtol=2e-4)
    print("ok")
""")


@needs_kernel
@pytest.mark.slow
@pytest.mark.skipif(torch.backends.cpu.get_cpu_capability().lower() not in ("avx2", "avx512"),
                    reason="needs a CPU with AVX2 to build the kernel's AVX2 variant")
def test_a_build_for_a_cpu_without_avx512_compiles_and_matches_nn_lstm():
    """Where torch finds no AVX-512 the kernel is built with AVX2 flags only: the AVX-512 sources compile to their
    stand-ins, the portable step runs, and its outputs and weight gradients (given x, d_xg not kept) are nn.LSTM's.

    The build lives beside the kernel's own (same torch, same checkout): torch rebuilds it when a source or a flag
    changes and otherwise loads it, so only the first run of the suite pays the ~90 s compile."""
    from seqae.nn import kernels
    folder = kernels.build_dir()
    folder = folder.with_name(folder.name.replace(kernels._name(), "seqae_lstm_cpu_avx2_check"))
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-c", _AVX2_BUILD, str(folder)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
