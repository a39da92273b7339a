"""Attention that keeps its matrix ``A = softmax(q k^T * scale)``, for SkipAt's reuse.

A SkipAt decoder block reuses the attention matrix of its encoder partner, so the
encoder must materialise A, of shape (B, heads, N, N): 103 MB in float32 for 8
heads over the 1792 tokens of a 7 x 128 x 128 video tile at H/8. At inference on
one CPU thread the encoder works through the query rows of each head in chunks of
about ``CHUNK_BYTES`` of logits, which stay in a core's L2 cache (1 MiB ran 6% faster
than 512 KiB and alike with 2 MiB on a 7 x 128^2 tile, AMD EPYC): for each chunk
it computes the logits, soft-maxes them in place and writes them into A. With
several threads, and on GPUs, many small ops cost more in synchronisation than
they save, so A is computed whole and soft-maxed in place.

At inference A is written into a ``MatrixWorkspace``: one buffer per encoder block
and thread that the next tile reuses. A fresh 50-100 MB buffer per tile costs a
page fault for every 4 KiB page of it, which took longer than filling it.

The chunked path keeps A in bfloat16 where the CPU computes in it natively: half
the memory to write and to read, and ``A @ V`` (the encoder's own output and the
decoder's) runs as one bf16 GEMM with float32 accumulation per head, several times
faster than float32 GEMMs over row chunks. Encoder and decoder then apply the very
same A; the published video model's output moves by at most about 1e-4.

Under autograd, and inside ``fused_ops.plain_kernels()``, both functions take the
plain path: one explicit float32 softmax over the whole matrix, which is what
training differentiates through and what ``flop_counter`` counts.
"""
from __future__ import annotations

import threading
import weakref

import torch

from restore.archs.fused_ops import bf16_is_native, fused_kernels

CHUNK_BYTES = 1024 * 1024


class MatrixWorkspace:
    """One reusable buffer for A per owner (an encoder block) and per thread.

    The buffer outlives a forward pass: a block's A stays valid until that block runs
    again on the same thread. A network that reads each A within its own forward, as
    the SkipAt decoder does, never sees the reuse. Owners are held weakly, and a
    thread's buffers go with the thread.
    """

    def __init__(self) -> None:
        self._owners: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def buffer(self, owner: object, shape: tuple[int, ...], like: torch.Tensor,
               dtype: torch.dtype) -> torch.Tensor:
        with self._lock:
            local = self._owners.setdefault(owner, threading.local())
        kept = getattr(local, "matrix", None)
        if kept is None or kept.shape != shape or kept.dtype != dtype or kept.device != like.device:
            kept = local.matrix = None  # free the old one before taking the new one
            kept = local.matrix = like.new_empty(shape, dtype=dtype)
        return kept


WORKSPACE = MatrixWorkspace()


def kept_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype the chunked path keeps A in: bfloat16 on CPUs with native bf16, else
    that of ``x``."""
    if x.device.type == "cpu" and x.dtype == torch.float32 and bf16_is_native(x.device):
        return torch.bfloat16
    return x.dtype


def attention_keeping_matrix(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                             scale: float, owner: object | None = None
                             ) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q k^T * scale) @ v`` and the softmax matrix A, for (B, heads, N, d) inputs.

    ``owner``: at inference, A is written into ``WORKSPACE``'s buffer for this owner and
    thread, and is valid until the owner's next call on the same thread."""
    if not fused_kernels() or torch.is_grad_enabled():
        attention = (query @ key.transpose(-2, -1) * scale).softmax(dim=-1)
        return attention @ value, attention
    batch, heads, tokens, _ = query.shape
    whole = query.device.type != "cpu" or torch.get_num_threads() > 1
    dtype = query.dtype if whole else kept_dtype(query)
    shape = (batch, heads, tokens, tokens)
    if owner is None:
        attention = query.new_empty(shape, dtype=dtype)
    else:
        attention = WORKSPACE.buffer(owner, shape, query, dtype)
    if whole:
        return _whole_matrix(query, key, value, scale, attention)
    return _row_chunks(query, key, value, scale, attention)


def _whole_matrix(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scale: float,
                  attention: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A in one buffer, scaled and soft-maxed in place: few large ops, for GPUs and
    several CPU threads (where every op of the chunked loop pays a synchronisation)."""
    torch.matmul(query, key.transpose(-2, -1), out=attention)
    torch.softmax(attention.mul_(scale), dim=-1, out=attention)
    return attention @ value, attention


def _row_chunks(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scale: float,
                attention: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A row chunk by row chunk, each chunk's logits in a cache-sized buffer. A float32
    A is multiplied by V chunk by chunk while in cache; a bf16 one in one GEMM per head
    once written, which is faster than float32 over chunks."""
    batch, heads, tokens, _ = query.shape
    same_dtype = attention.dtype == query.dtype
    out = torch.empty_like(query, memory_format=torch.contiguous_format) if same_dtype else None
    rows = max(16, CHUNK_BYTES // (tokens * query.element_size()))
    logits = query.new_empty(min(rows, tokens), tokens)
    for b in range(batch):
        for h in range(heads):
            key_t, head_value = key[b, h].t().contiguous(), value[b, h].contiguous()
            for start in range(0, tokens, rows):
                chunk = slice(start, start + rows)
                part = logits[:query[b, h, chunk].shape[0]]
                torch.addmm(part, query[b, h, chunk], key_t, beta=0, alpha=scale, out=part)
                if same_dtype:
                    torch.softmax(part, dim=-1, out=attention[b, h, chunk])
                    torch.mm(attention[b, h, chunk], head_value, out=out[b, h, chunk])
                else:
                    torch.softmax(part, dim=-1, out=part)
                    attention[b, h, chunk].copy_(part)
    if out is None:
        out = apply_attention(attention, value)
    return out, attention


def apply_attention(attention: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``A @ V`` for a kept A: a bf16 A meets a bf16 copy of V, and the result comes
    back in the dtype of V."""
    if attention.dtype == value.dtype:
        return attention @ value
    return (attention @ value.to(attention.dtype)).to(value.dtype)
