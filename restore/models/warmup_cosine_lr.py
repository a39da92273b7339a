"""Linear warm-up, then cosine decay to a floor: the Uformer learning-rate recipe, per iteration.

BasicSR steps schedulers once per iteration from iteration 2 on, so after
iteration ``k`` the step count ``last_epoch`` is ``k - 1``. Past ``total_iter``
the rate stays at ``eta_min`` instead of failing (BasicSR's cosine crashes there).
"""
import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler


def warmup_cosine_factor(step: int, total_iter: int, warmup_iter: int, floor_ratio: float) -> float:
    """Multiplier of the base rate at 0-based ``step``: (step+1)/warmup, then cosine to floor_ratio."""
    if step < warmup_iter:
        return (step + 1) / warmup_iter
    decay_steps = max(total_iter - warmup_iter, 1)
    progress = min((step - warmup_iter) / decay_steps, 1.0)
    return floor_ratio + (1.0 - floor_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class WarmupCosineLR(LRScheduler):
    """lr = base * (t+1)/warmup_iter for t < warmup_iter, then eta_min + (base - eta_min) * cosine."""

    def __init__(self, optimizer: Optimizer, total_iter: int, warmup_iter: int = 0, eta_min: float = 0.0,
                 last_epoch: int = -1):
        if total_iter <= 0 or not 0 <= warmup_iter < total_iter:
            raise ValueError(f"WarmupCosineLR needs 0 <= warmup_iter < total_iter, got {warmup_iter}, {total_iter}")
        self.total_iter = int(total_iter)
        self.warmup_iter = int(warmup_iter)
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        rates = []
        for base in self.base_lrs:
            floor = self.eta_min / base if base > 0 else 0.0
            rates.append(base * warmup_cosine_factor(self.last_epoch, self.total_iter, self.warmup_iter, floor))
        return rates

    def load_state_dict(self, state_dict: dict) -> None:
        """Resume the step count, but keep the schedule the option file asks for now, so that
        raising ``total_iter`` and resuming extends a run (torch would restore the old length)."""
        schedule = {key: getattr(self, key) for key in ("total_iter", "warmup_iter", "eta_min")}
        super().load_state_dict(state_dict)
        self.__dict__.update(schedule)
