"""UniFormer video denoiser: shapes, SkipAt reuse of the encoder's attention, FLOPs."""
import threading

import pytest
import torch

from restore.archs.fused_ops import plain_kernels
from restore.archs.uniformer_video_arch import UniformerVideo, UniformerVideoSkipAt
from restore.archs.video_uniformer_blocks import GlobalAttention, GlobalBlock, ReusedAttention
from restore.registry import ARCH_REGISTRY

TINY = dict(embed_dim=8, enc_depths=(1, 1, 1, 2), dec_depths=(2, 1, 1, 1), bottleneck_depth=1,
            head_dim=16, drop_path_rate=0.0)


def test_registered() -> None:
    assert ARCH_REGISTRY.get("UniformerVideo") is UniformerVideo
    assert ARCH_REGISTRY.get("UniformerVideoSkipAt") is UniformerVideoSkipAt


@pytest.mark.parametrize("cls", [UniformerVideo, UniformerVideoSkipAt])
@pytest.mark.parametrize("frames,height,width", [(7, 32, 32), (5, 21, 35), (1, 16, 19)])
def test_mimo_shapes_any_size(cls, frames: int, height: int, width: int) -> None:
    net = cls(**TINY).eval()
    x = torch.rand(1, frames, 3, height, width)
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_noise_map_channel_and_residual() -> None:
    net = UniformerVideo(noise_map=True, **TINY).eval()
    torch.nn.init.zeros_(net.output_proj.weight)
    torch.nn.init.zeros_(net.output_proj.bias)
    x = torch.rand(2, 3, 4, 16, 16)
    with torch.no_grad():
        y = net(x)
    assert y.shape == (2, 3, 3, 16, 16)
    torch.testing.assert_close(y, x[:, :, :3])  # zero head: output is the noisy input
    with pytest.raises(ValueError, match="expected input"):
        net(torch.rand(1, 3, 3, 16, 16))


def test_skipat_decoder_has_no_query_or_key() -> None:
    net = UniformerVideoSkipAt(**TINY)
    decoder_names = [name for name, _ in net.decoders.named_parameters()]
    global_decoder = [b for level in net.decoders for b in level if isinstance(b, GlobalBlock)]
    assert len(global_decoder) == 2
    assert all(isinstance(b.attn, ReusedAttention) for b in global_decoder)
    assert not any("qkv" in n or ".q." in n or ".k." in n for n in decoder_names)
    assert any(".attn.v." in n for n in decoder_names)
    baseline_names = [name for name, _ in UniformerVideo(**TINY).decoders.named_parameters()]
    assert any("qkv" in n for n in baseline_names)


def test_skipat_decoder_attention_is_the_encoders() -> None:
    net = UniformerVideoSkipAt(**TINY).eval()
    produced, consumed = [], []
    for block in net.encoders[3]:
        block.register_forward_hook(lambda m, args, kwargs, out: produced.append(out[1]), with_kwargs=True)
    for block in net.decoders[0]:
        block.attn.register_forward_pre_hook(lambda m, args: consumed.append(args[1]))
    with torch.no_grad():
        net(torch.rand(1, 3, 3, 32, 32))
    assert len(consumed) == 2 and len(produced) == 2
    for enc, dec in zip(produced, consumed):
        assert dec is enc  # identity reuse: the very same matrix
        torch.testing.assert_close(enc.sum(-1), torch.ones_like(enc.sum(-1)))  # softmax rows


def test_fused_explicit_and_kept_attention_agree() -> None:
    attention = GlobalAttention(32, 2).eval()
    x = torch.rand(2, 50, 32)
    with torch.no_grad():
        fused = attention(x)
        kept, matrix = attention.forward_keeping_matrix(x)
        with plain_kernels():
            explicit = attention(x)
            plain_kept, plain_matrix = attention.forward_keeping_matrix(x)
    assert matrix.shape == plain_matrix.shape == (2, 2, 50, 50)
    for out in (kept, explicit, plain_kept):
        torch.testing.assert_close(out, fused, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(matrix.float(), plain_matrix, rtol=0, atol=4e-3)  # bf16 where native


@pytest.mark.parametrize("cls", [UniformerVideo, UniformerVideoSkipAt])
def test_inference_kernels_and_plain_ops_agree(cls, threads) -> None:
    """Fused kernels, and A kept whole or in chunks (then in bf16 where native), against
    plain float32 ops."""
    torch.manual_seed(0)
    net = cls(noise_map=True, **TINY).eval()
    x = torch.rand(1, 3, 4, 48, 40)
    with torch.no_grad():
        fused = net(x)
        with plain_kernels():
            plain = net(x)
    torch.testing.assert_close(fused, plain, rtol=0, atol=1e-4 if cls is UniformerVideoSkipAt else 1e-5)


def test_skipat_reusing_its_workspace_gives_the_same_result(threads) -> None:
    """The encoders' A buffers outlive a forward: a later tile, and tiles run side by side
    in two Python threads (as ``tiled_apply`` runs them), must not see each other's A."""
    torch.manual_seed(0)
    net = UniformerVideoSkipAt(noise_map=True, **TINY).eval()
    clips = [torch.rand(1, 3, 4, 32, 32) for _ in range(4)]
    with torch.no_grad():
        alone = [net(clip) for clip in clips]
        again = net(clips[0])
        side_by_side = [None] * len(clips)

        def run(index: int) -> None:
            with torch.no_grad():
                for _ in range(3):
                    side_by_side[index] = net(clips[index])

        workers = [threading.Thread(target=run, args=(i,)) for i in range(len(clips))]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    torch.testing.assert_close(again, alone[0], rtol=0, atol=0)
    for ours, expected in zip(side_by_side, alone):
        torch.testing.assert_close(ours, expected, rtol=0, atol=0)


def test_skipat_gradients_reach_encoder_queries_through_reused_attention() -> None:
    net = UniformerVideoSkipAt(**TINY)
    net(torch.rand(1, 3, 3, 16, 16)).square().mean().backward()
    qkv = net.encoders[3][0].attn.qkv.weight.grad
    assert qkv is not None and qkv.abs().sum() > 0


def test_default_size_flops_match_paper_table6() -> None:
    from restore.benchmarks.video import gmacs_per_frame

    base = gmacs_per_frame(UniformerVideo, frames=7, size=256)
    skip = gmacs_per_frame(UniformerVideoSkipAt, frames=7, size=256)
    assert 90 < base < 97, base  # paper: 93.2
    assert 0.80 < skip / base < 0.86, (base, skip)  # paper: 77.1 / 93.2 = 0.827


def test_input_projection_stays_float32_under_bf16_autocast() -> None:
    """The first encoder level reads a float32 stream, so bf16 autocast keeps the fine detail."""
    net = UniformerVideoSkipAt(noise_map=True, **TINY).eval()
    seen = []
    net.encoders[0][0].register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].dtype))
    x = torch.rand(1, 3, 4, 32, 32)
    with torch.no_grad():
        ref = net(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = net(x)
    assert seen == [torch.float32, torch.float32]
    assert (low.float() - ref).abs().mean() < 2e-2


@pytest.mark.parametrize("cls", [UniformerVideo, UniformerVideoSkipAt])
def test_an_untrained_cascade_returns_the_image_stage_exactly(cls) -> None:
    """(noisy, image output, σ map) per frame: at initialisation the correction is zero, in fp32
    and under bf16 autocast, so the cascade starts at per-frame denoising and never below it."""
    net = cls(noise_map=True, cascade=True, **TINY).eval()
    assert net.in_chans == 7
    x = torch.rand(2, 5, 7, 21, 35)
    with torch.no_grad():
        out = net(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = net(x)
    assert torch.equal(out, x[:, :, 3:6]) and torch.equal(low, x[:, :, 3:6])
    with pytest.raises(ValueError, match=r"expected input \(B, T, 7, H, W\)"):
        net(torch.rand(1, 3, 4, 16, 16))


def test_a_cascade_learns_from_its_zero_start() -> None:
    """The zero output conv gets a gradient at once, and after one step the rest of the
    network does too (SkipAt's decoder still owns no query or key)."""
    torch.manual_seed(0)
    net = UniformerVideoSkipAt(cascade=True, **TINY)
    assert not any("qkv" in name for name, _ in net.decoders.named_parameters())
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    x, target = torch.rand(1, 3, 6, 16, 16), torch.rand(1, 3, 3, 16, 16)
    grads = []
    for _ in range(2):
        optimizer.zero_grad()
        (net(x) - target).square().mean().backward()
        grads.append((net.output_proj.weight.grad.abs().sum(), net.input_proj[0].weight.grad.abs().sum()))
        optimizer.step()
    assert grads[0][0] > 0 and grads[0][1] == 0 and grads[1][1] > 0
