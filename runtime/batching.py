"""How a neural stage splits the requests Triton batched into ONNX Runtime calls."""

from __future__ import annotations

from collections.abc import Sequence


def chunk_by_pixels(pixels: Sequence[int], budget: int) -> list[range]:
    """Consecutive index ranges over items of ``pixels`` each, every range within ``budget`` in total.

    Activations grow with batch x pixels: one 4-megapixel photo through espcn_x2 peaked at 2.2 GB of
    resident memory here, so eight in one call would need about 18 GB. A range always holds at
    least one item, however large (the pipeline's own input limit bounds that).
    """
    if budget < 1 or any(count < 1 for count in pixels):
        raise ValueError(f"invalid chunking: budget={budget}, pixels={list(pixels)}")
    ranges: list[range] = []
    start, total = 0, 0
    for index, count in enumerate(pixels):
        if index > start and total + count > budget:
            ranges.append(range(start, index))
            start, total = index, 0
        total += count
    if start < len(pixels):
        ranges.append(range(start, len(pixels)))
    return ranges
