"""The basicsr fixes that need no training run: optimiser, schedules, weights-only states, DDP wrap."""
import io
import math

import pytest
import torch

import restore.models  # noqa: F401  (installs the fixes)
from restore.errors import OptionsError
from restore.models.basicsr_fixes import build_scheduler, get_optimizer_any
from restore.models.options import check_schedule
from restore.models.warmup_cosine_lr import WarmupCosineLR


def _optimizer(lr: float = 2e-4) -> torch.optim.Optimizer:
    return get_optimizer_any(None, "AdamW", [torch.nn.Parameter(torch.zeros(3))], lr,
                             weight_decay=0.02, betas=[0.9, 0.999])


def _rates(scheduler, optimizer, iters: int) -> list[float]:
    """The rate used at iterations 1..iters, stepping as BasicSR does (from iteration 2 on)."""
    rates = []
    for current_iter in range(1, iters + 1):
        if current_iter > 1:
            optimizer.step()  # no gradients: only keeps PyTorch's call-order check quiet
            scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    return rates


def test_adamw_with_the_uformer_settings():
    optimizer = _optimizer()
    assert isinstance(optimizer, torch.optim.AdamW)
    group = optimizer.param_groups[0]
    assert group["weight_decay"] == 0.02 and group["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="not a torch.optim optimizer"):
        get_optimizer_any(None, "Adamm", [torch.nn.Parameter(torch.zeros(1))], 1e-3)


def test_warmup_then_cosine_to_the_floor_and_held_after():
    optimizer = _optimizer()
    rates = _rates(WarmupCosineLR(optimizer, total_iter=100, warmup_iter=10, eta_min=1e-6), optimizer, 130)
    assert rates[0] == pytest.approx(2e-5) and rates[9] == pytest.approx(2e-4)
    assert all(a < b for a, b in zip(rates[:9], rates[1:10]))
    assert rates[10] == pytest.approx(2e-4) and rates[55] == pytest.approx(1e-6 + (2e-4 - 1e-6) * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert all(a >= b for a, b in zip(rates[10:100], rates[11:101]))
    assert rates[100:] == pytest.approx([1e-6] * 30)


def test_scheduler_state_round_trips_weights_only():
    optimizer = _optimizer()
    scheduler = WarmupCosineLR(optimizer, total_iter=50, warmup_iter=5, eta_min=1e-6)
    _rates(scheduler, optimizer, 20)
    buffer = io.BytesIO()
    torch.save({"schedulers": [scheduler.state_dict()], "optimizers": [optimizer.state_dict()]}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    fresh_optimizer = _optimizer()
    fresh = WarmupCosineLR(fresh_optimizer, total_iter=50, warmup_iter=5, eta_min=1e-6)
    fresh_optimizer.load_state_dict(state["optimizers"][0])
    fresh.load_state_dict(state["schedulers"][0])
    scheduler.step()
    fresh.step()
    assert fresh_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]


def test_basicsr_cosine_restart_runs_its_periods_and_a_shorter_schedule_is_refused():
    # BasicSR's CosineAnnealingRestartLR fails past its last period: such a run is refused up front
    optimizer = _optimizer()
    scheduler = build_scheduler("CosineAnnealingRestartLR", optimizer, {"periods": [10], "eta_min": 1e-7})
    rates = _rates(scheduler, optimizer, 11)  # ten steps: to the end of the one period
    assert rates[0] == 2e-4 and rates[-1] == pytest.approx(1e-7) and rates == sorted(rates, reverse=True)
    schedule = {"type": "CosineAnnealingRestartLR", "periods": [10], "eta_min": 1e-7}
    check_schedule({"train": {"total_iter": 10, "scheduler": schedule}})
    with pytest.raises(OptionsError, match="shorter than total_iter 25"):
        check_schedule({"train": {"total_iter": 25, "scheduler": schedule}})
    assert isinstance(build_scheduler("StepLR", optimizer, {"step_size": 3}), torch.optim.lr_scheduler.StepLR)


def test_resuming_with_a_longer_total_iter_extends_the_cosine():
    def scheduler(total):
        opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
        return WarmupCosineLR(opt, total_iter=total, warmup_iter=10, eta_min=1e-6)

    short = scheduler(100)
    for _ in range(60):
        short.optimizer.step()
        short.step()
    longer = scheduler(1000)
    longer.load_state_dict(short.state_dict())
    assert longer.last_epoch == short.last_epoch == 60 and longer.total_iter == 1000
    longer.optimizer.step()
    longer.step()
    expected = 1e-6 + (1e-3 - 1e-6) * 0.5 * (1 + math.cos(math.pi * (61 - 10) / 990))
    assert math.isclose(longer.get_last_lr()[0], expected, rel_tol=1e-9)
