"""The generic denoising model: BasicSR's SRModel plus what the Uformer recipe needs.

Adds over SRModel: validation metrics on the float output (as the Uformer release
scores SIDD) or on uint8 (BasicSR's way), a best checkpoint by PSNR
(``models/net_g_best.pth``) whose record survives resume, atomic checkpoint and
state writes, optional gradient clipping, and a validation forward on the bare
network, so rank 0 can validate alone under DDP without a collective.

Subclasses (the video model) override ``net_forward``, ``metric_images`` and
``_save_outputs`` for other tensor layouts such as (B, T, C, H, W).
"""
import json
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from basicsr.metrics import calculate_metric
from basicsr.models.sr_model import SRModel
from basicsr.utils import get_root_logger, imwrite, tensor2img
from basicsr.utils.dist_util import master_only
from basicsr.utils.registry import MODEL_REGISTRY
from einops import rearrange
from tqdm import tqdm

from restore.models.autocast import training_autocast
from restore.io.checkpoints import save_atomic


def metric_image(tensor: torch.Tensor, quantize: bool) -> np.ndarray:
    """CxHxW RGB in [0, 1] -> HxWx3 BGR on the 0-255 scale, as BasicSR metrics take it:
    rounded to uint8 when ``quantize``, else float64 (so PSNR equals the [0, 1] float PSNR)."""
    if quantize:
        return tensor2img(tensor, rgb2bgr=True, out_type=np.uint8, min_max=(0, 1))
    image = rearrange(tensor.detach().float().clamp(0, 1).cpu().numpy(), "c h w -> h w c")
    return np.ascontiguousarray(image[..., ::-1], dtype=np.float64) * 255.0


@MODEL_REGISTRY.register()
class DenoiseModel(SRModel):
    """Options beyond SRModel's: train.grad_clip_norm; train.autocast (``bf16``: the
    forward pass under bfloat16 autocast, loss and optimiser in float32); val.quantize
    (default true), val.best_metric (default psnr), val.best_dataset (default: the first
    validated)."""

    # ----- hooks for subclasses -------------------------------------------------
    def net_forward(self, net: torch.nn.Module, lq: torch.Tensor) -> torch.Tensor:
        """One forward pass; override for padding or other tensor layouts."""
        return net(lq)

    def metric_images(self, output: torch.Tensor, gt: torch.Tensor, quantize: bool
                      ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(restored, ground truth) image pairs to score, one per batch element."""
        for restored, target in zip(output, gt):
            yield metric_image(restored, quantize), metric_image(target, quantize)

    # ----- training --------------------------------------------------------------
    def optimize_parameters(self, current_iter: int) -> None:
        self.optimizer_g.zero_grad()
        with training_autocast(self.opt["train"].get("autocast"), self.lq.device):
            self.output = self.net_forward(self.net_g, self.lq)
        self.output = self.output.float()
        loss_dict = OrderedDict()
        total = 0
        if self.cri_pix:
            loss_dict["l_pix"] = self.cri_pix(self.output, self.gt)
            total = total + loss_dict["l_pix"]
        if self.cri_perceptual:
            percep, style = self.cri_perceptual(self.output, self.gt)
            for name, value in (("l_percep", percep), ("l_style", style)):
                if value is not None:
                    loss_dict[name] = value
                    total = total + value
        total.backward()
        clip = self.opt["train"].get("grad_clip_norm")
        if clip:
            torch.nn.utils.clip_grad_norm_(self.net_g.parameters(), float(clip))
        self.optimizer_g.step()
        self.log_dict = self.reduce_loss_dict(loss_dict)
        if self.ema_decay > 0:
            self.model_ema(decay=self.ema_decay)

    def test(self) -> None:
        use_ema = hasattr(self, "net_g_ema") and not getattr(self, "_validating_raw", False)
        net = self.net_g_ema if use_ema else self.get_bare_model(self.net_g)
        was_training = net.training
        net.eval()
        with torch.no_grad():
            self.output = self.net_forward(net, self.lq)
        net.train(was_training)

    # ----- validation ------------------------------------------------------------
    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img: bool) -> None:
        """Validate the EMA network when the run keeps one (the one BasicSR tests), then, in
        training, the raw network too, logged as ``<dataset>_raw``: publish whichever is better."""
        if self.is_train:  # BasicSR's last validation comes at total_iter + 1, on total_iter's weights
            current_iter = min(current_iter, int(self.opt["train"]["total_iter"]))
        dataset_name = dataloader.dataset.opt["name"]
        self._validate(dataloader, dataset_name, current_iter, tb_logger, save_img)
        if self.is_train and hasattr(self, "net_g_ema"):
            self._validating_raw = True
            try:
                self._validate(dataloader, f"{dataset_name}_raw", current_iter, tb_logger, False)
            finally:
                self._validating_raw = False

    def _validate(self, dataloader, dataset_name: str, current_iter, tb_logger, save_img: bool) -> None:
        val_opt = self.opt["val"]
        metrics = val_opt.get("metrics") or {}
        quantize = bool(val_opt.get("quantize", True))
        if metrics:
            self._initialize_best_metric_results(dataset_name)
        sums = {name: 0.0 for name in metrics}
        count = 0
        show = val_opt.get("pbar", not self.is_train)
        for batch in tqdm(dataloader, desc=f"validate {dataset_name}", unit="batch", disable=not show):
            self.feed_data(batch)
            self.test()
            if save_img:
                self._save_outputs(batch, dataset_name, current_iter)
            if metrics and hasattr(self, "gt"):
                for restored, target in self.metric_images(self.output, self.gt, quantize):
                    for name, metric_opt in metrics.items():
                        sums[name] += float(calculate_metric({"img": restored, "img2": target}, metric_opt))
                    count += 1
            for name in ("lq", "gt", "output"):
                if hasattr(self, name):
                    delattr(self, name)
        if not metrics:
            return
        if count == 0:
            raise ValueError(f"validation set {dataset_name!r} has metrics but no ground truth")
        self.metric_results = {name: total / count for name, total in sums.items()}
        for name, value in self.metric_results.items():
            self._update_best_metric_result(dataset_name, name, value, current_iter)
        self._log_validation_metric_values(current_iter, dataset_name, tb_logger)
        if self.is_train:
            self._save_best(dataset_name, current_iter)

    def _save_outputs(self, batch: dict, dataset_name: str, current_iter) -> None:
        """Write each restored image of the batch as PNG; override for other layouts."""
        for restored, lq_path in zip(self.output, batch["lq_path"]):
            name = Path(lq_path).stem
            if self.is_train:
                path = Path(self.opt["path"]["visualization"]) / name / f"{name}_{current_iter}.png"
            else:
                path = Path(self.opt["path"]["visualization"]) / dataset_name / f"{name}.png"
            imwrite(tensor2img(restored, rgb2bgr=True, min_max=(0, 1)), str(path))

    def _save_best(self, dataset_name: str, current_iter: int) -> None:
        """Keep models/net_g_best.pth for the best ``val.best_metric`` on ``val.best_dataset``."""
        metric = self.opt["val"].get("best_metric", "psnr")
        if not hasattr(self, "_best_dataset"):
            self._best_dataset = self.opt["val"].get("best_dataset", dataset_name)
        record = self.best_metric_results.get(dataset_name, {}).get(metric)
        if dataset_name != self._best_dataset or record is None or record["iter"] != current_iter:
            return
        if hasattr(self, "net_g_ema"):  # the EMA network is the one validated
            self.save_network([self.net_g, self.net_g_ema], "net_g", "best", param_key=["params", "params_ema"])
        else:
            self.save_network(self.net_g, "net_g", "best")
        self._write_best_record(dataset_name, metric, record)
        get_root_logger().info(f"Best {metric} on {dataset_name}: {record['val']:.4f} @ {current_iter}; "
                               f"saved net_g_best.pth")

    @master_only
    def _write_best_record(self, dataset_name: str, metric: str, record: dict) -> None:
        path = Path(self.opt["path"]["models"]) / "net_g_best.json"
        path.write_text(json.dumps({"dataset": dataset_name, "metric": metric, **record}, indent=2))

    # ----- saving and resuming ---------------------------------------------------
    @master_only
    def save_network(self, net, net_label: str, current_iter, param_key="params") -> None:
        """BasicSR's layout ({param_key: state_dict}, 'module.' stripped), written atomically."""
        suffix = "latest" if current_iter == -1 else current_iter
        nets = net if isinstance(net, list) else [net]
        keys = param_key if isinstance(param_key, list) else [param_key]
        if len(nets) != len(keys):
            raise ValueError("the lengths of net and param_key differ")
        checkpoint = {}
        for one_net, key in zip(nets, keys):
            state = self.get_bare_model(one_net).state_dict()
            checkpoint[key] = {k.removeprefix("module."): v.detach().cpu() for k, v in state.items()}
        save_atomic(checkpoint, Path(self.opt["path"]["models"]) / f"{net_label}_{suffix}.pth")

    @master_only
    def save_training_state(self, epoch: int, current_iter: int) -> None:
        """BasicSR's state plus the best-metric record, written atomically."""
        if current_iter == -1:
            return
        state = {"epoch": epoch, "iter": current_iter,
                 "optimizers": [o.state_dict() for o in self.optimizers],
                 "schedulers": [s.state_dict() for s in self.schedulers],
                 "best_metric_results": getattr(self, "best_metric_results", {})}
        save_atomic(state, Path(self.opt["path"]["training_states"]) / f"{current_iter}.state")

    def resume_training(self, resume_state: dict) -> None:
        super().resume_training(resume_state)
        if resume_state.get("best_metric_results"):
            self.best_metric_results = resume_state["best_metric_results"]
