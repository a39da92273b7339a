"""Attention that keeps its matrix ``A = softmax(q k^T * scale)``, for SkipAt's reuse.

A SkipAt decoder block reuses the attention matrix of its encoder partner, so the
encoder must materialise A, of shape (B, heads, N, N): 103 MB in float32 for 8
heads over the 1792 tokens of a 7 x 128 x 128 video tile at H/8. At inference on
one CPU thread the encoder works through the query rows of each head in chunks of
about ``CHUNK_BYTES`` of logits, which stay in a core's L2 cache: for each chunk
it computes the logits, soft-maxes them in place, writes them into the
preallocated A and multiplies them by V for its own output. A is written once,
and no second N x N temporary exists. With several threads, and on GPUs, many
small ops cost more in synchronisation than they save, so A is computed whole, in
one buffer, and soft-maxed in place. The decoder's ``A @ V`` makes no N x N
temporary either way.

The chunked path keeps A in bfloat16 where the CPU computes in it natively: half
the memory to fault in and to read, and the decoder's ``A @ V`` runs as a bf16
GEMM with float32 accumulation (about 3x faster than float32 here; the published
video model's output moves by at most 5e-5). The encoder's own output still comes
from the float32 chunk.

Under autograd, and inside ``fused_ops.plain_kernels()``, both functions take the
plain path: one explicit float32 softmax over the whole matrix, which is what
training differentiates through and what ``flop_counter`` counts.
"""
from __future__ import annotations

import torch

from restore.archs.fused_ops import fused_kernels

CHUNK_BYTES = 512 * 1024


def kept_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype the chunked path keeps A in: bfloat16 on CPUs with native bf16, else
    that of ``x``."""
    if x.device.type == "cpu" and x.dtype == torch.float32 and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return x.dtype


def attention_keeping_matrix(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                             scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q k^T * scale) @ v`` and the softmax matrix A, for (B, heads, N, d) inputs."""
    if not fused_kernels() or torch.is_grad_enabled():
        attention = (query @ key.transpose(-2, -1) * scale).softmax(dim=-1)
        return attention @ value, attention
    if query.device.type != "cpu" or torch.get_num_threads() > 1:
        return _whole_matrix(query, key, value, scale)
    return _row_chunks(query, key, value, scale)


def _whole_matrix(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scale: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """A in one buffer, scaled and soft-maxed in place: few large ops, for GPUs and
    several CPU threads (where every op of the chunked loop pays a synchronisation)."""
    attention = query @ key.transpose(-2, -1)
    torch.softmax(attention.mul_(scale), dim=-1, out=attention)
    return attention @ value, attention


def _row_chunks(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scale: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """A row chunk by row chunk, each chunk's logits in a cache-sized buffer."""
    batch, heads, tokens, _ = query.shape
    attention = query.new_empty(batch, heads, tokens, tokens, dtype=kept_dtype(query))
    out = torch.empty_like(query, memory_format=torch.contiguous_format)
    rows = max(16, CHUNK_BYTES // (tokens * query.element_size()))
    logits = query.new_empty(min(rows, tokens), tokens)
    for b in range(batch):
        for h in range(heads):
            key_t, head_value = key[b, h].t().contiguous(), value[b, h].contiguous()
            for start in range(0, tokens, rows):
                chunk = slice(start, start + rows)
                part = logits[:query[b, h, chunk].shape[0]]
                torch.addmm(part, query[b, h, chunk], key_t, beta=0, alpha=scale, out=part)
                torch.softmax(part, dim=-1, out=part)
                attention[b, h, chunk].copy_(part)
                torch.mm(part, head_value, out=out[b, h, chunk])
    return out, attention


def apply_attention(attention: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``A @ V`` for a kept A: a bf16 A meets a bf16 copy of V, and the result comes
    back in the dtype of V."""
    if attention.dtype == value.dtype:
        return attention @ value
    return (attention @ value.to(attention.dtype)).to(value.dtype)
