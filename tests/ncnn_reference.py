"""Run an ncnn .param/.bin with the `ncnn` package itself: the reference our conversions must match."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def run_ncnn(param: Path, weights: Path, x: np.ndarray, input_blob: str, output_blob: str) -> np.ndarray:
    """One CHW float input through ncnn on the CPU in float32; the CHW output as a numpy copy."""
    ncnn = pytest.importorskip("ncnn")
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    # Float32 everywhere, so the comparison measures our conversion, not ncnn's fp16 arithmetic.
    net.opt.use_fp16_storage = False
    net.opt.use_fp16_packed = False
    net.opt.use_fp16_arithmetic = False
    net.opt.use_bf16_storage = False
    net.opt.num_threads = 2
    assert net.load_param(str(param)) == 0 and net.load_model(str(weights)) == 0
    data = np.ascontiguousarray(x, dtype=np.float32)
    mat = ncnn.Mat(data)  # wraps `data` without a copy: both must outlive extract()
    with net.create_extractor() as extractor:
        extractor.input(input_blob, mat)
        status, out = extractor.extract(output_blob)
        assert status == 0
        result = np.array(out, copy=True)
    net.clear()
    return result
