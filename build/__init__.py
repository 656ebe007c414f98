"""lumaflow.build: torch architectures, training, weight conversion, ONNX export and evaluation.

Importing this package is cheap (no torch): ``lumaflow serve`` checks artefacts through it.
"""

from pathlib import Path

# Committed weights of the networks we train ourselves, with their manifest.json.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
