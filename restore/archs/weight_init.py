"""The weight initialisation the transformer denoisers share (as in ViT, Swin and Uformer)."""
from torch import nn


def init_transformer_weights(module: nn.Module) -> None:
    """Truncated-normal linears (std 0.02, zero bias) and unit LayerNorms; use with ``apply``."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
