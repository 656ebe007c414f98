"""System shared memory for a camera's raw frames when the server runs on this machine.

A 1280x720 frame is 2.7 MB in and, at x2, 11 MB out; over gRPC both are copied through the
protobuf message and the socket. With a local server the frames can live in POSIX shared memory
instead (``/dev/shm``): the client writes a frame into a region the server has registered
(Triton's system shared memory API), the request carries only the region's name, and the server
writes its output into another region. ``FrameSlots`` keeps a small ring of such (input, output)
region pairs for frames of one shape, so every frame in flight has its own pair.

Regions are Python's ``multiprocessing.shared_memory`` segments (no native library needed); they
are unregistered from the server and unlinked on ``close``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from multiprocessing import shared_memory
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient

_SESSION_IDS = itertools.count()


def is_local(url: str) -> bool:
    """Whether ``url`` (host:port) names this machine by a loopback address."""
    host = url.rsplit(":", 1)[0].strip("[]") if ":" in url else url
    return host in ("localhost", "::1") or host.startswith("127.")


class FrameSlots:
    """A ring of registered (input, output) shared-memory regions for frames of one shape."""

    def __init__(
        self,
        client: grpcclient.InferenceServerClient,
        input_name: str,
        output_name: str,
        in_shape: tuple[int, ...],
        out_shape: tuple[int, ...],
        slots: int,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.client, self.headers = client, headers
        self.input_name, self.output_name = input_name, output_name
        self.in_shape, self.out_shape = in_shape, out_shape
        self.in_bytes, self.out_bytes = int(np.prod(in_shape)), int(np.prod(out_shape))
        prefix = f"lumaflow_{os.getpid()}_{next(_SESSION_IDS)}"
        self.regions: list[tuple[str, shared_memory.SharedMemory]] = []
        self.free = list(range(slots))
        try:
            for slot in range(slots):
                for kind, size in (("in", self.in_bytes), ("out", self.out_bytes)):
                    name = f"{prefix}_{slot}_{kind}"
                    memory = shared_memory.SharedMemory(name=name, create=True, size=size)
                    self.regions.append((name, memory))
                    client.register_system_shared_memory(name, f"/{name}", size, headers=headers)
        except BaseException:
            self.close()
            raise

    def acquire(self) -> int | None:
        """A free slot, or None when every slot has a frame in flight."""
        return self.free.pop() if self.free else None

    def request(self, slot: int, frame: np.ndarray) -> tuple[list[grpcclient.InferInput], list[Any]]:
        """Write ``frame`` into the slot's input region; the request's inputs and outputs naming the regions."""
        (in_name, in_memory), (out_name, _) = self.regions[2 * slot], self.regions[2 * slot + 1]
        np.ndarray(self.in_shape, dtype=np.uint8, buffer=in_memory.buf)[...] = frame.reshape(self.in_shape)
        tensor = grpcclient.InferInput(self.input_name, list(self.in_shape), "UINT8")
        tensor.set_shared_memory(in_name, self.in_bytes)
        output = grpcclient.InferRequestedOutput(self.output_name)
        output.set_shared_memory(out_name, self.out_bytes)
        return [tensor], [output]

    def read(self, slot: int, shape: tuple[int, ...]) -> np.ndarray:
        """A copy of the slot's output (of ``shape``, as the response says), and the slot back in the ring."""
        _, out_memory = self.regions[2 * slot + 1]
        try:
            return np.ndarray(shape, dtype=np.uint8, buffer=out_memory.buf).copy()
        finally:
            self.free.append(slot)

    def close(self) -> None:
        for name, memory in self.regions:
            with contextlib.suppress(Exception):  # the server may be gone; the segment is still ours to remove
                self.client.unregister_system_shared_memory(name, headers=self.headers)
            memory.close()
            memory.unlink()
        self.regions = []
        self.free = []
