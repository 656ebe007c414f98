"""Lumaflow: photo and camera-frame enhancement served by NVIDIA Triton."""

from lumaflow.contract import VERSION as __version__

__all__ = ["__version__"]
