"""Parse and validate a request's OPTIONS against its pipeline's JSON Schema."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from lumaflow.ensemble import contract
from lumaflow.server.imaging import InvalidInput


class OptionsParser:
    """Built once per model from the pipeline's schema; ``parse`` per request."""

    def __init__(self, schema: dict[str, Any]) -> None:
        Draft202012Validator.check_schema(schema)
        self.validator = Draft202012Validator(schema)
        # A key without a default (e.g. noise_level) is None: the pipeline decides (e.g. estimates it).
        self.defaults = {key: value.get("default") for key, value in schema["properties"].items()}

    def parse(self, raw: bytes | None) -> dict[str, Any]:
        """The request's options with defaults filled in; ``[invalid_options]`` when they are wrong."""
        if raw is None or not raw.strip():
            return dict(self.defaults)
        try:
            given = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidInput(contract.INVALID_OPTIONS, f"OPTIONS is not valid JSON ({error}).") from None
        if not isinstance(given, dict):
            raise InvalidInput(contract.INVALID_OPTIONS, f"OPTIONS must be a JSON object, got {type(given).__name__}.")
        problems = sorted(self.validator.iter_errors(given), key=lambda problem: list(problem.path))
        if problems:
            first = problems[0]
            where = ".".join(str(part) for part in first.path)
            prefix = f"OPTIONS.{where}" if where else "OPTIONS"
            known = ", ".join(sorted(self.defaults))
            hint = f" Known keys: {known}." if first.validator == "additionalProperties" else ""
            raise InvalidInput(contract.INVALID_OPTIONS, f"{prefix}: {first.message}.{hint}")
        return {**self.defaults, **given}
