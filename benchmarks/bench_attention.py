"""Causal scaled dot-product attention, each framework's fused entry point: `mx.fast` against
`torch.nn.functional`.

q, k and v are (batch, heads, sequence, head_dim) on both sides, the layout both functions document;
queries and keys have the same length. Shapes: a batch of short sequences with BERT-base-sized heads,
a 7B-class model (32 heads of 128) taking in 1024 tokens, and one sequence of 2048 tokens with heads
of 64. A sequence of 4096 is left out: MLX's CPU attention takes 14 s a call on a 2-core machine.
"""

import numpy as np

from .common import F, OpBenchmark, mx


def causal_mask(length):
    """True where query i may see key j (j <= i)."""
    return np.tril(np.ones((length, length), dtype=bool))


class CausalAttention(OpBenchmark):
    """softmax(q k^T / sqrt(head_dim), keys after the query masked out) v, in float32.

    Same mask on both sides: MLX's "causal" aligns the last query with the last key, torch's
    `is_causal` the first with the first; with as many queries as keys both let query i see keys
    0..i. The scale is passed to both explicitly.

    Neither framework is told which kernel to use. What each picks for float32, as read in the
    sources (torch's `sdp_utils.cpp` and its memory-efficient kernel's `gemm_kernel_utils.h`, MLX at
    0.32.2) and not yet seen on a GPU run:
    - torch on CUDA: flash and cuDNN attention take only float16/bfloat16, so the memory-efficient
      (CUTLASS) kernel runs. From sm80 on it multiplies float32 as 3xTF32 (`OpMultiplyAddFastF32`,
      about float32's accuracy on tensor cores) whatever `allow_tf32` says: its strict and tf32 rows
      time the same kernel, and its strict row is float32-accurate rather than IEEE float32 FMAs.
    - MLX on CUDA: its fused kernels are cuDNN's (float16/bfloat16 only) and a vector kernel for
      decoding (under 4 queries), so a float32 prefill takes MLX's unfused graph: a matmul for the
      whole sequence x sequence scores (the masked half too), a mask, a float32 softmax, a matmul.
      Those matmuls follow MLX_ENABLE_TF32: float32 in strict, TF32 in tf32.
    - MLX on Metal: its fused attention kernel, which takes float32 at head_dim 64 and 128.
    - torch on CPU: its flash-attention CPU kernel (float32, skips the masked blocks); MLX on CPU:
      the unfused graph.
    """

    cases = [
        "dim=8x12x512x64 dim=8x12x512x64 dim=8x12x512x64",
        "dim=1x32x1024x128 dim=1x32x1024x128 dim=1x32x1024x128",
        "dim=1x16x2048x64 dim=1x16x2048x64 dim=1x16x2048x64",
    ]
    uses_matrix_units = True
    # float32: at most 5.5e-7 seen on the CPU backends (dot products of up to 128 terms, softmax and
    # weighted sums over up to 2048 keys); 1e-5 leaves GPU kernels their own exp and summation order,
    # while a mask off by one key or a scale of 1/head_dim is off by over 0.3. TF32 (q, k, the weights and
    # v rounded to 10 bits in a NumPy model of it): 4.3e-4 at these shapes, under the suite's 5e-3.
    tolerance = 1e-5

    def flops(self, case):
        # Only the s(s+1)/2 pairs a query may see (what a kernel that skips masked blocks computes):
        # per pair a head_dim-term dot product for the score and a head_dim-term update of the output,
        # 2 * head_dim FLOPs each. The softmax's few FLOPs per pair (under 3% at head_dim 64) are not
        # counted.
        batch, heads, length, head_dim = case.shapes[0]
        return batch * heads * length * (length + 1) // 2 * 4 * head_dim

    def numpy(self, q, k, v):
        scores = q @ np.swapaxes(k, -1, -2) * q.shape[-1] ** -0.5
        scores[..., ~causal_mask(q.shape[-2])] = -np.inf
        scores -= scores.max(axis=-1, keepdims=True)
        weights = np.exp(scores, out=scores)
        weights /= weights.sum(axis=-1, keepdims=True)
        return weights @ v

    def mlx(self, q, k, v):
        return mx.fast.scaled_dot_product_attention(q, k, v, scale=q.shape[-1] ** -0.5, mask="causal")

    def torch(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=q.shape[-1] ** -0.5)
