"""The kept attention matrix of SkipAt's video encoder: chunked at inference, plain under autograd."""
import threading

import pytest
import torch

from restore.archs import attention_ops
from restore.archs.attention_ops import apply_attention, attention_keeping_matrix, kept_dtype
from restore.archs.fused_ops import bf16_is_native, plain_kernels


def reference(query, key, value, scale):
    attention = (query @ key.transpose(-2, -1) * scale).softmax(dim=-1)
    return attention @ value, attention


@pytest.fixture
def qkv():
    torch.manual_seed(0)
    # 50 tokens in chunks of 16 rows: three full chunks and a remainder
    return [torch.randn(2, 3, 50, 8) for _ in range(3)]


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(attention_ops, "CHUNK_BYTES", 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_chunked_and_whole_equal_plain_ops(monkeypatch, qkv, dtype, threads):
    """One thread: row chunks, A in ``kept_dtype``; two: the whole matrix in float32."""
    monkeypatch.setattr(attention_ops, "kept_dtype", lambda x: dtype)
    with torch.no_grad():
        out, attention = attention_keeping_matrix(*qkv, 0.35)
        with plain_kernels():
            plain_out, plain_attention = attention_keeping_matrix(*qkv, 0.35)
    assert attention.dtype == (dtype if threads == 1 else torch.float32)
    assert plain_attention.dtype == torch.float32
    torch.testing.assert_close(plain_out, reference(*qkv, 0.35)[0], rtol=0, atol=1e-6)
    if attention.dtype == torch.float32:
        torch.testing.assert_close(out, plain_out, rtol=0, atol=1e-6)
        torch.testing.assert_close(attention, plain_attention, rtol=0, atol=1e-6)
    else:  # bf16 keeps 8 bits of mantissa; the encoder applies the A the decoder will
        torch.testing.assert_close(attention.float(), plain_attention, rtol=0, atol=4e-3)
        torch.testing.assert_close(out, apply_attention(attention, qkv[2]), rtol=0, atol=0)
        torch.testing.assert_close(out, plain_out, rtol=0, atol=2e-2)


def test_workspace_buffer_is_reused_per_owner_and_thread(qkv, threads):
    owner, other = torch.nn.Identity(), torch.nn.Identity()
    with torch.no_grad():
        expected = attention_keeping_matrix(*qkv, 0.35)
        first = attention_keeping_matrix(*qkv, 0.35, owner=owner)[1]
        pointer = first.data_ptr()
        second_out, second = attention_keeping_matrix(*qkv, 0.35, owner=owner)
        theirs = attention_keeping_matrix(*qkv, 0.35, owner=other)[1]
        elsewhere = []

        def other_thread():
            with torch.no_grad():  # grad mode is per thread
                elsewhere.append(attention_keeping_matrix(*qkv, 0.35, owner=owner)[1].data_ptr())

        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        smaller = attention_keeping_matrix(*[t[:, :, :20] for t in qkv], 0.35, owner=owner)[1]
    assert second.data_ptr() == pointer            # the same block reuses its buffer
    assert theirs.data_ptr() != pointer            # two blocks' matrices live side by side
    assert elsewhere and elsewhere[0] != pointer   # so do two threads' tiles
    assert smaller.shape[-1] == 20                 # a new tile size gets a new buffer
    torch.testing.assert_close(second_out, expected[0], rtol=0, atol=0)
    torch.testing.assert_close(second, expected[1], rtol=0, atol=0)
    with torch.enable_grad():                      # training never touches the workspace
        trained = attention_keeping_matrix(*[t.clone().requires_grad_() for t in qkv], 0.35, owner=other)[1]
    assert trained.data_ptr() != theirs.data_ptr() and trained.requires_grad


def test_under_autograd_values_and_gradients_equal_the_inference_path(qkv, threads):
    with torch.no_grad():
        inference_out, inference_attention = attention_keeping_matrix(*qkv, 0.35)
    leaves = [t.clone().requires_grad_() for t in qkv]
    out, attention = attention_keeping_matrix(*leaves, 0.35)
    assert attention.dtype == torch.float32
    atol = 1e-6 if inference_attention.dtype == torch.float32 else 2e-2  # bf16 A at inference
    torch.testing.assert_close(out, inference_out, rtol=0, atol=atol)
    (out.square().sum() + attention.square().sum()).backward()
    grads = [t.grad for t in leaves]

    reference_leaves = [t.clone().requires_grad_() for t in qkv]
    ref_out, ref_attention = reference(*reference_leaves, 0.35)
    (ref_out.square().sum() + ref_attention.square().sum()).backward()
    for grad, ref_leaf in zip(grads, reference_leaves):
        torch.testing.assert_close(grad, ref_leaf.grad, rtol=1e-5, atol=1e-6)


def test_reused_matrix_times_values(qkv):
    query, key, value = qkv
    _, attention = reference(query, key, value, 0.35)
    expected = attention @ value
    torch.testing.assert_close(apply_attention(attention, value), expected)
    low = apply_attention(attention.to(torch.bfloat16), value)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, expected, rtol=0, atol=2e-2)


def test_matrix_kept_in_bf16_only_where_the_cpu_runs_it():
    x = torch.zeros(1)
    native = bf16_is_native(torch.device("cpu"))
    assert kept_dtype(x) == (torch.bfloat16 if native else torch.float32)
    assert kept_dtype(x.double()) == torch.float64
