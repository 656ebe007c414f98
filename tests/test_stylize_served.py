"""stylize over gRPC: the looks network applies each template to a real photo, listed with thumbnails."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image
from tritonclient.utils import InferenceServerException

from lumaflow.client import LumaflowClient
from lumaflow.ensemble.looks import CATEGORIES, TEMPLATE_NAMES, TEMPLATES
from lumaflow.server.process import TritonServer
from tests.fixtures import decode, encode, enhance, sporco_photo

pytestmark = pytest.mark.served


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return sporco_photo("kodim23")[:200, :264]  # odd-sized on purpose: stylize pads nothing


def test_every_template_equals_offline_changes_a_real_photo_and_differs_from_the_others(
    client: grpcclient.InferenceServerClient, photo: np.ndarray
) -> None:
    from lumaflow.build import WEIGHTS_DIR
    from lumaflow.build.looks import stylize
    from lumaflow.build.registry import load_file

    network = load_file(str(WEIGHTS_DIR / "looks.pt")).model
    outputs = {}
    for index, name in enumerate(TEMPLATE_NAMES):
        data, info = enhance(client, encode(photo), "stylize", options={"template": name})
        styled = decode(data)
        assert styled.shape == photo.shape, name
        assert info["analysis"]["template"] == {"name": name, "strength": 1.0}
        assert info["stages"] == ["decode", "looks", "quality_check", "encode"]
        offline = stylize(network, photo, index).astype(np.int16)  # type: ignore[arg-type]
        assert np.abs(styled.astype(np.int16) - offline).max() <= 1, name
        change = np.abs(styled.astype(np.int16) - photo).mean()
        assert change > 3.0, f"{name} barely changes the photo (mean |diff| {change:.2f})"
        outputs[name] = styled.astype(np.int16)
        none, _ = enhance(client, encode(photo), "stylize", options={"template": name, "strength": 0.0})
        assert np.array_equal(decode(none), photo), name
    for i, first in enumerate(TEMPLATE_NAMES):
        for second in TEMPLATE_NAMES[i + 1 :]:
            assert np.abs(outputs[first] - outputs[second]).mean() > 1.0, (first, second)


def test_two_looks_the_network_merges_on_a_photo_are_served_pushed_apart(
    client: grpcclient.InferenceServerClient,
) -> None:
    """On Wood the network renders polaroid_80s and summer_bright 2.4 CIEDE2000 apart; served, the push apart
    (``LookNet.separation``) holds them at least 3 apart, and the served graph equals offline within 1 level."""
    from lumaflow.build import WEIGHTS_DIR
    from lumaflow.build.looks import delta_e, resize_long_side, stylize
    from lumaflow.build.looks_eval import DISTINCT_LONG_SIDE, MIN_PAIR
    from lumaflow.build.photo_sets import by_name, load
    from lumaflow.build.registry import load_file

    network = load_file(str(WEIGHTS_DIR / "looks.pt")).model
    wood = resize_long_side(load(by_name("Wood")), DISTINCT_LONG_SIDE)
    served = {}
    for name in ("polaroid_80s", "summer_bright"):
        data, _ = enhance(client, encode(wood), "stylize", options={"template": name})
        served[name] = decode(data)
        offline = stylize(network, wood, TEMPLATE_NAMES.index(name)).astype(np.int16)  # type: ignore[arg-type]
        assert np.abs(served[name].astype(np.int16) - offline).max() <= 1, name
    assert delta_e(served["polaroid_80s"], served["summer_bright"]) >= MIN_PAIR


def test_strength_blends_the_look_with_the_photo(client: grpcclient.InferenceServerClient, photo: np.ndarray) -> None:
    def styled(strength: float) -> np.ndarray:
        data, _ = enhance(client, encode(photo), "stylize", options={"template": "teal_orange", "strength": strength})
        return decode(data).astype(np.int16)

    none, half, full = styled(0.0), styled(0.5), styled(1.0)
    assert np.array_equal(none, photo)
    assert np.abs(half - (photo + full) / 2).max() <= 1.0  # a linear blend, up to rounding


def test_a_request_without_a_template_is_told_the_choices(
    client: grpcclient.InferenceServerClient, photo: np.ndarray
) -> None:
    with pytest.raises(InferenceServerException) as refused:
        enhance(client, encode(photo), "stylize")
    message = refused.value.message()
    assert "[invalid_options] OPTIONS: 'template' is a required property." in message
    assert (
        "Choose one of: warm_film, teal_orange," in message and refused.value.status() == "StatusCode.INVALID_ARGUMENT"
    )
    with pytest.raises(InferenceServerException, match=r"OPTIONS.strength: 1.5 is greater than the maximum of 1"):
        enhance(client, encode(photo), "stylize", options={"template": "vivid", "strength": 1.5})


def test_the_templates_are_listed_with_the_pipelines_with_a_thumbnail_each(server: TritonServer) -> None:
    with LumaflowClient(server.endpoints.grpc_url) as lumaflow:
        (stylize,) = [info for info in lumaflow.pipelines() if info.name == "stylize"]
    assert sorted(template.name for template in stylize.templates) == sorted(TEMPLATE_NAMES)
    assert stylize.options_schema["properties"]["template"]["enum"] == list(TEMPLATE_NAMES)
    groups = stylize.templates_by_category()
    assert list(groups) == [title for _, title in CATEGORIES]  # grouped, in the catalogue's order
    for title, looks in groups.items():
        key = next(key for key, t in CATEGORIES if t == title)
        assert {look.name for look in looks} == {look.name for look in TEMPLATES if look.category == key}
    for template in stylize.templates:
        assert template.description
        thumbnail = Image.open(io.BytesIO(template.thumbnail))
        assert thumbnail.format == "JPEG" and 48 <= thumbnail.width <= 160, template.name


def test_the_looks_model_called_directly_refuses_a_look_that_does_not_exist(
    client: grpcclient.InferenceServerClient, photo: np.ndarray
) -> None:
    """TEMPLATE and STRENGTH declare their ranges: outside them is the caller's error, not the server's."""

    def call(template: int, strength: float) -> np.ndarray:
        inputs = [
            grpcclient.InferInput("PIXELS", [1, *photo.shape], "UINT8"),
            grpcclient.InferInput("TEMPLATE", [1, 1], "INT32"),
            grpcclient.InferInput("STRENGTH", [1, 1], "FP32"),
        ]
        inputs[0].set_data_from_numpy(photo[None])
        inputs[1].set_data_from_numpy(np.array([[template]], dtype=np.int32))
        inputs[2].set_data_from_numpy(np.array([[strength]], dtype=np.float32))
        return client.infer("looks", inputs).as_numpy("RESTORED")

    last = len(TEMPLATE_NAMES) - 1
    assert call(last, 1.0).shape == (1, *photo.shape)
    for template, strength, message in (
        (last + 1, 1.0, f"[invalid_options] TEMPLATE must lie within 0 to {last}, got {last + 1}."),
        (-1, 1.0, f"[invalid_options] TEMPLATE must lie within 0 to {last}, got -1."),
        (0, float("nan"), "[invalid_options] STRENGTH must lie within 0 to 1, got nan."),
    ):
        with pytest.raises(InferenceServerException) as refused:
            call(template, strength)
        assert refused.value.status() == "StatusCode.INVALID_ARGUMENT"
        assert message in refused.value.message()
