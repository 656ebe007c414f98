"""Lumaflow: photo and camera-frame enhancement served by NVIDIA Triton."""

__version__ = "0.1.0"
