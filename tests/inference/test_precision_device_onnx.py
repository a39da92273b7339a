"""Precision and device routing, and the ONNX path: export, parity, and the Denoiser running
an .onnx file through the same tiling. Apple's MPS cannot run here: its routing is tested
with a stub."""
import warnings

import numpy as np
import pytest
import torch
from skimage import data

from restore.api import Denoiser
from restore.errors import RestoreError
from restore.inference import precision


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, publish, tiny_uformer):
    return publish(tmp_path_factory.mktemp("weights"), "tiny_uformer_gauss", "Uformer", tiny_uformer).path


def test_auto_precision_follows_the_hardware(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(precision, "bf16_is_native", lambda device: True)
    assert precision.resolve_precision("auto", cpu) == torch.bfloat16
    monkeypatch.setattr(precision, "bf16_is_native", lambda device: False)
    assert precision.resolve_precision("auto", cpu) == torch.float32  # emulated bf16 would be ~10x slower
    assert precision.resolve_precision("auto", torch.device("cuda")) == torch.float16
    assert precision.resolve_precision("auto", torch.device("mps")) == torch.float16
    with pytest.warns(UserWarning, match="no native bfloat16"):
        assert precision.resolve_precision("bf16", cpu) == torch.bfloat16
    with pytest.raises(RestoreError, match="fp16 runs on cuda and mps only"):
        precision.resolve_precision("fp16", cpu)
    with pytest.raises(RestoreError, match="unknown precision"):
        precision.resolve_precision("fp8", cpu)


def test_mps_is_routed_where_cuda_is_and_refused_clearly_where_missing(monkeypatch):
    monkeypatch.setattr(precision, "mps_available", lambda: False)
    with pytest.raises(RestoreError, match="device 'mps' was asked for, but this PyTorch has no usable MPS"):
        precision.resolve_device("mps")
    monkeypatch.setattr(precision.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(precision, "mps_available", lambda: True)
    assert precision.resolve_device("mps") == torch.device("mps")
    assert precision.resolve_device("auto") == torch.device("mps")


def test_the_clis_and_the_app_offer_mps_and_the_precisions():
    from restore.denoise_image import parse_args as image_args
    from restore.denoise_video import parse_args as video_args

    image = image_args(["--input", "x.png", "--device", "mps", "--precision", "bf16"])
    video = video_args(["--input", "x.mp4", "--device", "mps", "--precision", "fp16"])
    assert (image.device, image.precision, video.device, video.precision) == ("mps", "bf16", "mps", "fp16")
    assert image_args(["--input", "x.png"]).precision == "auto" and image_args(["--input", "x.png"]).sigma == "auto"


def test_bf16_keeps_the_residual_in_float32_and_stays_close(tiny):
    image = data.astronaut()[:96, :96]
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 25, image.shape), 0, 255).astype(np.uint8)
    exact = Denoiser.from_pretrained(tiny, device="cpu", precision="fp32")(noisy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # emulated bf16 warns on CPUs without it
        fast = Denoiser.from_pretrained(tiny, device="cpu", precision="bf16")
    # autocast: the weights and the residual streams stay float32, matmuls and convs run in bf16
    assert fast.precision == "bf16" and fast.autocast and next(fast.net.parameters()).dtype == torch.float32
    out = fast(noisy)
    assert out.dtype == np.uint8 and np.abs(out.astype(int) - exact.astype(int)).max() <= 3


@pytest.mark.slow
def test_onnx_export_matches_torch_and_the_denoiser_runs_it_tiled(tiny, tmp_path, capsys):
    pytest.importorskip("onnxruntime", reason="pip install -r requirements-onnx.txt")
    from restore.export import main as export

    path = tmp_path / "tiny.onnx"
    assert export(["--model", str(tiny), "--output", str(path), "--size", "64"]) == 0
    out = capsys.readouterr().out
    difference = float(out.split("max |onnx - torch| = ")[1].split()[0])
    assert difference < 1e-4
    image = data.astronaut()[:150, :100]  # larger than one tile in height, smaller in width
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 25, image.shape), 0, 255).astype(np.uint8)
    onnx = Denoiser.from_pretrained(path, tile=64, tile_overlap=16)
    torch_den = Denoiser.from_pretrained(tiny, device="cpu", tile=64, tile_overlap=16)
    assert onnx.card.name == "tiny_uformer_gauss" and onnx.tile == 64
    assert np.abs(onnx(noisy).astype(int) - torch_den(noisy).astype(int)).max() <= 1
    with pytest.raises(RestoreError, match="runs on the CPU in fp32"):
        Denoiser.from_pretrained(path, precision="bf16")


def test_exporting_without_onnxruntime_says_how_to_install(tiny, tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name.startswith(("onnxruntime", "onnx")):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    from restore.export import main as export

    assert export(["--model", str(tiny), "--output", str(tmp_path / "x.onnx")]) == 2
    assert "pip install -r requirements-onnx.txt" in capsys.readouterr().err


@pytest.mark.slow
def test_the_published_video_model_exports_and_matches_torch(tmp_path, capsys):
    pytest.importorskip("onnxruntime", reason="pip install -r requirements-onnx.txt")
    from restore.export import main as export

    path = tmp_path / "video.onnx"
    assert export(["--model", "uniformer_skipat_gauss", "--output", str(path), "--size", "64", "--frames", "3"]) == 0
    difference = float(capsys.readouterr().out.split("max |onnx - torch| = ")[1].split()[0])
    assert difference < 1e-4


@pytest.mark.slow
def test_a_cascade_exports_its_video_stage_and_runs_beside_its_image_stage(tmp_path, capsys, publish, tiny_uformer,
                                                                           tiny_video):
    """The export takes (noisy, image output, σ map) frames; the Denoiser of the .onnx file loads the
    image stage its card names from the weights folder and matches the PyTorch cascade."""
    pytest.importorskip("onnxruntime", reason="pip install -r requirements-onnx.txt")
    from restore.api import save_pretrained
    from restore.archs.uniformer_video_arch import UniformerVideoSkipAt
    from restore.export import main as export

    folder = tmp_path / "weights"
    image = publish(folder, "tiny_image", "UformerSkipAt", tiny_uformer)
    config = {**tiny_video, "cascade": True}
    net = UniformerVideoSkipAt(**config)
    torch.nn.init.normal_(net.output_proj.weight, std=0.05)  # a correction that is not zero, so parity tests it
    cascade = save_pretrained(net, folder, name="tiny_cascade", arch="UniformerVideoSkipAt", config=config,
                              kind="video", noise={"type": "gaussian", "sigma": [0, 50]}, noise_map_input=True,
                              image_stage=image)
    path = tmp_path / "exported" / "cascade.onnx"
    path.parent.mkdir()
    assert export(["--model", str(cascade.path), "--output", str(path), "--size", "32", "--frames", "3"]) == 0
    out = capsys.readouterr().out
    assert "input (1, 3, 7, 32, 32)" in out and float(out.split("max |onnx - torch| = ")[1].split()[0]) < 1e-4
    onnx = Denoiser.from_pretrained(path, weights_dir=folder)
    assert onnx.card.is_cascade and onnx.image_stage.name == "tiny_image"
    clip = np.clip(data.astronaut()[:40, :56] + np.random.default_rng(0).normal(0, 25, (5, 40, 56, 3)), 0, 255)
    clip = clip.astype(np.uint8)
    torch_den = Denoiser.from_pretrained(cascade.path, device="cpu")
    got = onnx.denoise_video(clip, sigma=30, tile=32, clip_len=3, clip_overlap=1)
    expected = torch_den.denoise_video(clip, sigma=30, tile=32, clip_len=3, clip_overlap=1)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
