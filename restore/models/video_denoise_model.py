"""Video denoising model: ``DenoiseModel`` with clips ``(B, T, C, H, W)`` (MIMO).

Training is unchanged (the loss compares all T output frames with all T clean
frames). Validation scores every output frame on its own, so the reported
PSNR is the mean over frames, as the video protocol measures it; saved
validation images are one PNG per frame.
"""
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from basicsr.utils import imwrite, tensor2img
from basicsr.utils.registry import MODEL_REGISTRY

from restore.models.denoise_model import DenoiseModel, metric_image


@MODEL_REGISTRY.register()
class VideoDenoiseModel(DenoiseModel):
    """Same options as DenoiseModel; the network maps (B, T, C, H, W) to (B, T, 3, H, W)."""

    def metric_images(self, output: torch.Tensor, gt: torch.Tensor, quantize: bool
                      ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for restored_clip, target_clip in zip(output, gt):
            for restored, target in zip(restored_clip, target_clip):
                yield metric_image(restored, quantize), metric_image(target, quantize)

    def _save_outputs(self, batch: dict, dataset_name: str, current_iter) -> None:
        for clip, name in zip(self.output, batch["lq_path"]):
            name = Path(name).stem
            for index, frame in enumerate(clip):
                if self.is_train:
                    path = Path(self.opt["path"]["visualization"]) / name / f"{current_iter}_{index:05d}.png"
                else:
                    path = Path(self.opt["path"]["visualization"]) / dataset_name / name / f"{index:05d}.png"
                imwrite(tensor2img(frame, rgb2bgr=True, min_max=(0, 1)), str(path))
