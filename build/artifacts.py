"""Atomic writes of weight files and the weights manifest.

A crash or a concurrent reader must never see half a weight file or half a manifest, so every
write goes to a temp file in the same folder and is renamed over the target.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

MANIFEST_NAME = "manifest.json"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def save_state_dict(state: Mapping[str, torch.Tensor], path: str | os.PathLike[str]) -> Path:
    """Save a plain state dict (contiguous CPU tensors only, so `weights_only` loading works)."""
    clean = {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}
    buf = io.BytesIO()
    torch.save(clean, buf)
    return atomic_write_bytes(path, buf.getvalue())


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def update_manifest(folder: str | os.PathLike[str], name: str, entry: Mapping[str, Any]) -> Path:
    """Set `networks[name]` in `folder`/manifest.json, keeping the other networks' entries."""
    path = Path(folder) / MANIFEST_NAME
    manifest: dict[str, Any] = {"networks": {}}
    if path.exists():
        manifest = json.loads(path.read_text())
        manifest.setdefault("networks", {})
    manifest["networks"][name] = dict(entry)
    manifest["networks"] = dict(sorted(manifest["networks"].items()))
    text = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
    return atomic_write_bytes(path, text.encode())
