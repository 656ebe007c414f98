"""Parse and validate a request's OPTIONS against its pipeline's JSON Schema."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from lumaflow import contract
from lumaflow.contract import PRESET_KEY
from lumaflow.runtime.errors import InvalidInput

# A jsonschema message quotes the offending value; a long one is cut so the reply stays one readable sentence.
MAX_DETAIL = 200


def _not_json(constant: str) -> Any:
    """``json`` accepts NaN and ±Infinity, which JSON does not; NaN would pass every minimum and maximum."""
    raise ValueError(f"{constant} is not a JSON number")


class OptionsParser:
    """Built once per model from the pipeline's schema; ``parse`` per request."""

    def __init__(self, schema: dict[str, Any], presets: dict[str, dict[str, Any]] | None = None) -> None:
        Draft202012Validator.check_schema(schema)
        self.validator = Draft202012Validator(schema)
        self.presets = presets or {}
        # A key without a default (e.g. noise_level) is None: the pipeline decides (e.g. estimates it).
        self.defaults = {key: value.get("default") for key, value in schema["properties"].items() if key != PRESET_KEY}
        self.properties: dict[str, Any] = schema["properties"]

    def _choices_hint(self, required: list[str], given: dict[str, Any]) -> str:
        """For a missing key with a fixed set of values: what it may be (a client sees the looks at once)."""
        missing = [key for key in required if key not in given]
        choices = self.properties.get(missing[0], {}).get("enum") if missing else None
        return f" Choose one of: {', '.join(map(str, choices))}." if choices else ""

    def parse(self, raw: bytes | None) -> dict[str, Any]:
        """The request's options with defaults filled in; ``[invalid_options]`` when they are wrong."""
        if raw is None or not raw.strip():
            raw = b"{}"  # still validated: a pipeline may require a key (stylize's template)
        try:
            given = json.loads(raw, parse_constant=_not_json)
        except RecursionError:
            raise InvalidInput(contract.INVALID_OPTIONS, "OPTIONS is nested too deeply to be read.") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidInput(contract.INVALID_OPTIONS, f"OPTIONS is not valid JSON ({_short(str(error))}).") from None
        if not isinstance(given, dict):
            raise InvalidInput(contract.INVALID_OPTIONS, f"OPTIONS must be a JSON object, got {type(given).__name__}.")
        problems = sorted(self.validator.iter_errors(given), key=lambda problem: list(problem.path))
        if problems:
            first = problems[0]
            where = ".".join(str(part) for part in first.path)
            prefix = f"OPTIONS.{where}" if where else "OPTIONS"
            known = ", ".join(sorted(self.defaults))
            hint = f" Known keys: {known}." if first.validator == "additionalProperties" else ""
            if first.validator == "required":
                hint = self._choices_hint(first.validator_value, given)
            raise InvalidInput(contract.INVALID_OPTIONS, f"{prefix}: {_short(first.message)}.{hint}")
        name = given.pop(PRESET_KEY, None)
        if name is None:
            return {**self.defaults, **given}
        # A preset fills in its bundle; the request's own keys still win. INFO shows which preset it was.
        return {**self.defaults, **self.presets[name], **given, PRESET_KEY: name}


def _short(detail: str) -> str:
    return detail if len(detail) <= MAX_DETAIL else f"{detail[: MAX_DETAIL - 3]}..."
