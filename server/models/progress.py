"""``progress``: how far a photo request that named an OPTIONS ``progress`` id has got.

The tilers publish each tiled stage's tiles done of total on the machine's progress board
(``lumaflow.runtime.progress``); this model reads it back for a caller polling over gRPC, so progress
reaches a client (the web page) on another machine through the same server and port as the photo.
An id that is not of the contract's pattern is ``[invalid_options]``; an unknown one answers ``{}``.
"""

from __future__ import annotations

import json
from typing import Any

from lumaflow import contract
from lumaflow.runtime.progress import ProgressBoard
from lumaflow.server.models.base import Outputs, RequestModel, bytes_tensor, single_bytes


class TritonPythonModel(RequestModel):
    def setup(self, args: dict[str, str]) -> None:
        self.board = ProgressBoard()

    def process(self, request: Any) -> Outputs:
        request_id = single_bytes(request, contract.PROGRESS_ID.name).decode(errors="replace")
        return {contract.PROGRESS.name: bytes_tensor(json.dumps(self.board.read(request_id)).encode())}
