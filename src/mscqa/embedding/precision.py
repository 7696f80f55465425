"""Which number format to compute in: bf16 only where the CPU computes it natively."""

from __future__ import annotations

from pathlib import Path

# CPU features that make bfloat16 matrix products native (Intel AMX, AVX512-BF16): there a
# bf16 model embeds passages ~4x faster than fp32 with cosine >= 0.9999 to the fp32 vectors
# (bench/perf/build.py). Without them bf16 is emulated and slower, so ``auto`` stays on fp32.
BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
PRECISIONS = ("fp32", "bf16")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (Linux); empty where they cannot be read."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def resolve_precision(precision: str, flags: frozenset[str] | None = None) -> str:
    """``fp32`` or ``bf16``: ``auto`` picks bf16 only where the CPU computes it natively.

    >>> resolve_precision("auto", flags=frozenset({"avx2"}))
    'fp32'
    >>> resolve_precision("auto", flags=frozenset({"amx_bf16"}))
    'bf16'
    """
    if precision in PRECISIONS:
        return precision
    if precision != "auto":
        raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")
    return "bf16" if BF16_FLAGS & (cpu_flags() if flags is None else flags) else "fp32"
