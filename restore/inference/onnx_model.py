"""ONNX export of a loaded network, and an onnxruntime network that the Denoiser runs like a torch one.

Our networks trace to ONNX with their window partitions and attention reshapes fixed to the
traced size, so an export has one input shape: a tile (an image of ``size x size``, or a clip of
``frames x size x size``). That is no loss in use: the Denoiser cuts every input into tiles of
that size anyway, and pads an input smaller than one tile up to it by mirroring, as the networks
pad internally. The weight card travels inside the file (ONNX metadata), so an ``.onnx`` file
loads on its own with ``Denoiser.from_pretrained("model.onnx")``.

onnxruntime is a deployment target here (other runtimes, mobile, edge), not a speed-up:
``python -m restore.benchmarks.speed --onnx`` measures it beside torch.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from restore.archs.padding import pad_to_multiple
from restore.errors import MissingDependency, WeightsError

CARD_KEY = "restore_card"
SHAPE_KEY = "restore_input_shape"
INSTALL = "pip install -r requirements-onnx.txt"


def require_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependency(f"running or exporting ONNX models needs onnx and onnxruntime: {INSTALL}") from None
    return onnxruntime


def input_shape(kind: str, channels: int, size: int, frames: int) -> tuple[int, ...]:
    return (1, channels, size, size) if kind == "image" else (1, frames, channels, size, size)


def export(net: nn.Module, card_fields: dict, path: Path, kind: str, channels: int, size: int,
           frames: int = 7, opset: int = 17) -> tuple[int, ...]:
    """Trace ``net`` (float32, eval) at one tile shape and write it to ``path`` with the card inside."""
    require_onnxruntime()
    import onnx

    from restore.archs.fused_ops import plain_kernels
    from restore.io.temp_files import replace_atomically

    shape = input_shape(kind, channels, size, frames)
    example = torch.rand(shape)
    with torch.no_grad(), plain_kernels(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes fixed at trace time
        replace_atomically(path, lambda tmp: torch.onnx.export(
            net, (example,), tmp, input_names=["noisy"], output_names=["clean"], opset_version=opset,
            dynamo=False), suffix=".onnx")
    model = onnx.load(str(path))
    for key, value in ((CARD_KEY, json.dumps(card_fields)), (SHAPE_KEY, json.dumps(shape))):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    replace_atomically(path, lambda tmp: onnx.save(model, tmp), suffix=".onnx")
    return shape


def read_metadata(path: Path) -> tuple[dict, tuple[int, ...]]:
    """(card fields, input shape) stored in an exported file."""
    ort = require_onnxruntime()
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types for a bad file
        raise WeightsError(f"{path} is not a readable ONNX model: {str(error).splitlines()[0]}") from None
    meta = session.get_modelmeta().custom_metadata_map
    if CARD_KEY not in meta or SHAPE_KEY not in meta:
        raise WeightsError(f"{path} was not exported by restore.export (no weight card inside)")
    return json.loads(meta[CARD_KEY]), tuple(json.loads(meta[SHAPE_KEY]))


class OnnxNetwork(nn.Module):
    """An onnxruntime session behind a torch module's call: one tile shape, CPU, float32.

    Inputs smaller than the tile are mirrored up to it and cropped back; larger ones are an
    error (the Denoiser's tiling never sends one).
    """

    def __init__(self, path: Path, shape: tuple[int, ...], threads: int | None = None) -> None:
        super().__init__()
        ort = require_onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.shape = shape

    @property
    def tile(self) -> int:
        return self.shape[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if height > self.shape[-2] or width > self.shape[-1] or x.shape[1:-2] != self.shape[1:-2]:
            raise WeightsError(f"this ONNX model takes inputs of {tuple(self.shape[1:])} at most, got "
                               f"{tuple(x.shape[1:])}")
        padded = pad_to_multiple(x.float(), self.tile)
        outputs = [self.session.run(None, {"noisy": item[None].numpy()})[0] for item in padded]
        return torch.from_numpy(np.concatenate(outputs))[..., :height, :width]
