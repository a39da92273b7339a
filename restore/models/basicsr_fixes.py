"""What basicsr 1.4.2 needs to run here, installed only when ``restore.models`` is imported: the
alias on this module's import (it must precede basicsr's first import), the patches by
``apply_basicsr_fixes()``. We do not fork basicsr; each kept fix, in one line:

- ``torchvision.transforms.functional_tensor``: basicsr imports it, torchvision 0.17 removed it;
  it is aliased to ``torchvision.transforms.functional`` (where its one used function now lives)
  before basicsr is first imported, or basicsr cannot be imported at all.
- ``options.init_dist``: nccl and ``torch.cuda.set_device`` hard-coded; we use gloo and no device on CPU.
- ``BaseModel.model_to_device``: DDP wrapped with ``device_ids=[cuda device]``; on CPU we pass none.
- ``train.parse_options``: relative ``dataroot*``/``pretrain_network*``/``resume_state`` paths are
  resolved against the repository root (like ``experiments/``), so a run works from any folder.
- ``train.load_resume_state``: ``storage.cuda()`` and a cwd-relative ``experiments/``; we read
  weights only onto the CPU, look under the repository root, and skip an unreadable newest state.
- ``BaseModel.get_optimizer``: Adam only; we build any ``torch.optim`` class (AdamW).
- ``BaseModel.setup_schedulers``: two schedulers; we add ``WarmupCosineLR`` and ``torch.optim.lr_scheduler``.
- ``BaseModel.load_network``: plain ``torch.load`` unpickles code; we read weights only, and ``.safetensors``.

Not patched: ``dist_util.init_dist`` (basicsr calls it only through ``options``), ``options.parse_options``
(``restore/test.py`` calls :func:`parse_options_repo_relative` itself) and
``CosineAnnealingRestartLR.get_lr``, which fails past its periods: ``restore.models.options`` refuses
such a schedule before training starts.
"""
import importlib
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DataParallel, DistributedDataParallel

REMOVED_TORCHVISION_MODULE = "torchvision.transforms.functional_tensor"


def alias_removed_torchvision_module() -> None:
    """Make ``import torchvision.transforms.functional_tensor`` find ``functional`` when it is gone."""
    try:
        importlib.import_module(REMOVED_TORCHVISION_MODULE)
    except ModuleNotFoundError:
        sys.modules[REMOVED_TORCHVISION_MODULE] = importlib.import_module("torchvision.transforms.functional")


alias_removed_torchvision_module()

import basicsr.train  # noqa: E402  (only after the alias)
import basicsr.utils.dist_util  # noqa: E402
import basicsr.utils.options  # noqa: E402
from basicsr.models import lr_scheduler as basicsr_lr  # noqa: E402
from basicsr.models.base_model import BaseModel  # noqa: E402
from basicsr.utils import get_root_logger  # noqa: E402
from basicsr.utils.misc import check_resume  # noqa: E402

from restore.io.checkpoints import read_checkpoint, unwrap_state_dict  # noqa: E402
from restore.models.warmup_cosine_lr import WarmupCosineLR  # noqa: E402

_ORIGINAL_PARSE_OPTIONS = basicsr.utils.options.parse_options
_applied = False


def dist_backend() -> str:
    return "nccl" if torch.cuda.is_available() else "gloo"


def init_dist_any_device(launcher: str, backend: str | None = None, **kwargs) -> None:
    """torchrun (``--launcher pytorch``) on GPUs with nccl or on CPUs with gloo."""
    backend = backend or dist_backend()
    if launcher == "pytorch":
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", os.environ["RANK"])) % torch.cuda.device_count())
        dist.init_process_group(backend=backend, **kwargs)
    elif launcher == "slurm":
        if not torch.cuda.is_available():
            raise ValueError("the slurm launcher needs GPUs; on CPU use torchrun with --launcher pytorch")
        basicsr.utils.dist_util._init_dist_slurm(backend, **kwargs)
    else:
        raise ValueError(f"Invalid launcher type: {launcher}")


def _resolve(path: str, root: str) -> str:
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(root, path))


def parse_options_repo_relative(root_path: str, is_train: bool = True) -> tuple[dict, object]:
    """BasicSR's parse_options, then relative data and weight paths made repo-root based."""
    opt, args = _ORIGINAL_PARSE_OPTIONS(root_path, is_train=is_train)
    for dataset in opt.get("datasets", {}).values():
        for key, value in dataset.items():
            if key.startswith("dataroot") and isinstance(value, str):
                dataset[key] = _resolve(value, root_path)
    for key, value in opt.get("path", {}).items():
        if isinstance(value, str) and ("pretrain_network" in key or "resume_state" in key):
            opt["path"][key] = _resolve(value, root_path)
    return opt, args


def _state_iter(path: Path) -> float:
    try:
        return float(path.stem)
    except ValueError:
        return float("-inf")


def load_resume_state_cpu_safe(opt: dict) -> dict | None:
    """The training state to resume from, read weights-only onto the CPU, or None."""
    resume_path = opt["path"].get("resume_state")
    state = None
    if opt["auto_resume"]:
        state_dir = Path(opt["path"]["training_states"])  # <repo root>/experiments/<name>/training_states
        candidates = sorted(state_dir.glob("*.state"), key=_state_iter, reverse=True) if state_dir.is_dir() else []
        for candidate in candidates:
            try:
                state = read_checkpoint(candidate)
            except Exception as error:  # a state cut short by a kill: fall back to the one before
                print(f"auto_resume: skipping unreadable {candidate}: {error}", file=sys.stderr, flush=True)
                continue
            resume_path = str(candidate)
            opt["path"]["resume_state"] = resume_path
            break
    elif resume_path:
        state = read_checkpoint(resume_path)
    if state is None:
        return None
    check_resume(opt, state["iter"])
    return state


def model_to_device_any(self: BaseModel, net: torch.nn.Module) -> torch.nn.Module:
    """Move to the model's device; wrap in DDP with device_ids only on CUDA."""
    net = net.to(self.device)
    if self.opt["dist"]:
        find_unused = self.opt.get("find_unused_parameters", False)
        device_ids = [torch.cuda.current_device()] if self.device.type == "cuda" else None
        net = DistributedDataParallel(net, device_ids=device_ids, find_unused_parameters=find_unused)
    elif self.opt["num_gpu"] > 1:
        net = DataParallel(net)
    return net


def get_optimizer_any(self: BaseModel, optim_type: str, params, lr: float, **kwargs) -> torch.optim.Optimizer:
    """Any optimiser in torch.optim by its class name (Adam, AdamW, SGD, ...)."""
    optimizer_class = getattr(torch.optim, optim_type, None)
    if not (isinstance(optimizer_class, type) and issubclass(optimizer_class, torch.optim.Optimizer)):
        raise ValueError(f"optimizer {optim_type!r} is not a torch.optim optimizer")
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    return optimizer_class(params, lr, **kwargs)


def build_scheduler(scheduler_type: str, optimizer: torch.optim.Optimizer, options: dict):
    if scheduler_type in ("MultiStepLR", "MultiStepRestartLR"):
        return basicsr_lr.MultiStepRestartLR(optimizer, **options)
    if scheduler_type == "CosineAnnealingRestartLR":
        return basicsr_lr.CosineAnnealingRestartLR(optimizer, **options)
    if scheduler_type == "WarmupCosineLR":
        return WarmupCosineLR(optimizer, **options)
    scheduler_class = getattr(torch.optim.lr_scheduler, scheduler_type, None)
    if scheduler_class is None:
        raise ValueError(f"scheduler {scheduler_type!r} is neither a BasicSR scheduler, WarmupCosineLR, "
                         f"nor a torch.optim.lr_scheduler class")
    return scheduler_class(optimizer, **options)


def setup_schedulers_any(self: BaseModel) -> None:
    train_opt = self.opt["train"]
    options = dict(train_opt["scheduler"])
    scheduler_type = options.pop("type")
    if scheduler_type == "WarmupCosineLR" and train_opt.get("warmup_iter", -1) > 0:
        raise ValueError("WarmupCosineLR has its own warmup_iter: remove train.warmup_iter (BasicSR's warm-up)")
    for optimizer in self.optimizers:
        self.schedulers.append(build_scheduler(scheduler_type, optimizer, options))


def load_network_weights_only(self: BaseModel, net: torch.nn.Module, load_path: str, strict: bool = True,
                              param_key: str | None = "params") -> None:
    net = self.get_bare_model(net)
    checkpoint = read_checkpoint(load_path)
    used_key = param_key if param_key is not None and isinstance(checkpoint.get(param_key), dict) else "auto"
    state = unwrap_state_dict(checkpoint, source=str(load_path), key=param_key)
    get_root_logger().info(f"Loading {net.__class__.__name__} model from {load_path}, with param key: [{used_key}].")
    self._print_different_keys_loading(net, state, strict)
    net.load_state_dict(state, strict=strict)


def apply_basicsr_fixes() -> None:
    """Install the fixes above into basicsr (idempotent)."""
    global _applied
    if _applied:
        return
    basicsr.utils.options.init_dist = init_dist_any_device
    basicsr.train.parse_options = parse_options_repo_relative
    basicsr.train.load_resume_state = load_resume_state_cpu_safe
    BaseModel.model_to_device = model_to_device_any
    BaseModel.get_optimizer = get_optimizer_any
    BaseModel.setup_schedulers = setup_schedulers_any
    BaseModel.load_network = load_network_weights_only
    _applied = True
