"""Video denoising model: ``DenoiseModel`` with clips ``(B, T, C, H, W)`` (MIMO).

Training is unchanged (the loss compares all T output frames with all T clean
frames). Validation scores every output frame on its own, so the reported
PSNR is the mean over frames, as the video protocol measures it; saved
validation images are one PNG per frame.

A cascade (``network_g: {cascade: true}`` with ``image_stage: <card>.json`` beside it) trains
only the video stage: the image model named by the card is loaded once, frozen (eval
mode, no gradients), and run on every noisy frame of each batch inside the forward pass
(under the run's autocast, if any); the network gets (noisy, image output, σ map) frames.
"""
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from basicsr.utils import get_root_logger, imwrite, tensor2img
from basicsr.utils.registry import MODEL_REGISTRY
from einops import rearrange

from restore.inference.networks import load_network
from restore.models.denoise_model import DenoiseModel, metric_image
from restore.models.options import cascade_image_card


@MODEL_REGISTRY.register()
class VideoDenoiseModel(DenoiseModel):
    """Same options as DenoiseModel, plus ``image_stage`` for a cascade; the network maps
    (B, T, C, H, W) to (B, T, 3, H, W)."""

    def __init__(self, opt: dict) -> None:
        super().__init__(opt)
        self.image_stage, self.image_stage_card = None, cascade_image_card(opt)
        if self.image_stage_card is not None:
            self.image_stage = load_network(self.image_stage_card).eval().to(self.device)
            for parameter in self.image_stage.parameters():
                parameter.requires_grad_(False)
            get_root_logger().info(f"Cascade on the frozen image model {self.image_stage_card.name} "
                                   f"(sha256 {self.image_stage_card.sha256})")

    def net_forward(self, net: torch.nn.Module, lq: torch.Tensor) -> torch.Tensor:
        return net(self.cascade_input(lq) if self.image_stage is not None else lq)

    def cascade_input(self, lq: torch.Tensor) -> torch.Tensor:
        """(B, T, 3[+1], H, W) -> (B, T, 6[+1], H, W): each noisy frame, the image stage's output
        for it (clamped to [0, 1], as inference clamps it), then the σ map if there is one."""
        noisy, noise_map = lq[:, :, :3], lq[:, :, 3:]
        stage_input = lq if self.image_stage_card.noise_map_input else noisy
        with torch.no_grad():
            staged = self.image_stage(rearrange(stage_input, "b t c h w -> (b t) c h w")).float().clamp(0, 1)
        staged = rearrange(staged, "(b t) c h w -> b t c h w", b=lq.shape[0])
        return torch.cat([noisy, staged, noise_map], dim=2)

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
