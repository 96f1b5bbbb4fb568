"""Requests and outcomes as plain JSON-able values for the broker (no pickle: whoever can write to Redis
must not be able to run code in the bot or the workers).

    encode_request(ComposeRequest | RerenderRequest | json value) -> dict    decode_request(dict) -> request
    outcome = encode_outcome(kind, value)                                    decode_outcome(dict) -> (kind, value)

Bytes travel as they are: kombu's JSON encodes them as base64 and decodes them back to bytes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.artifacts import Artifacts, TuneFacts
from bot.requests import ComposeRequest, RerenderRequest

# What a task returns: {"outcome": kind, "value": ...}
DONE, FAILED, CRASHED, TIMED_OUT, SKIPPED = "done", "failed", "crashed", "timed_out", "skipped"


def encode_request(request: Any) -> dict:
    if isinstance(request, ComposeRequest):
        return {"type": "compose", "fields": request.to_dict()}
    if isinstance(request, RerenderRequest):
        return {
            "type": "rerender",
            "tune_id": request.tune_id,
            "text": request.text,
            "text_format": request.text_format,
            "request": request.request.to_dict(),
            "seed": request.seed,
            "model_version": request.model_version,
        }
    return {"type": "value", "value": request}  # tests and benches: any JSON-able value


def decode_request(data: dict) -> Any:
    kind = data.get("type")
    if kind == "compose":
        return ComposeRequest(**_known(ComposeRequest, data["fields"]))
    if kind == "rerender":
        return RerenderRequest(
            data["tune_id"],
            data["text"],
            data["text_format"],
            ComposeRequest(**_known(ComposeRequest, data["request"])),
            data.get("seed"),
            str(data.get("model_version") or ""),
        )
    if kind == "value":
        value = data["value"]
        return tuple(value) if isinstance(value, list) else value
    raise ValueError(f"unknown request type {kind!r}")


def _known(cls, fields: dict) -> dict:
    """Only the fields this version knows (a newer bot may send more)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in fields.items() if k in names}


def encode_outcome(kind: str, value: Any = None) -> dict:
    if isinstance(value, Artifacts):
        value = {
            "artifacts": {
                "files": dict(value.files),
                "text": value.text,
                "text_format": value.text_format,
                "facts": value.facts.to_dict(),
            }
        }
    return {"outcome": kind, "value": value}


def decode_outcome(data: Any) -> tuple[str, Any]:
    if not isinstance(data, dict) or "outcome" not in data:
        return CRASHED, f"unreadable result from the worker: {str(data)[:200]}"
    value = data.get("value")
    if isinstance(value, dict) and set(value) == {"artifacts"}:
        a = value["artifacts"]
        files = {name: bytes(b) for name, b in a["files"].items()}
        value = Artifacts(files, a["text"], a["text_format"], TuneFacts.from_dict(a.get("facts") or {}))
    return data["outcome"], value
