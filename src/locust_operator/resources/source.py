"""The LocustTest the children are built from: its identity and its parsed, defaulted spec."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from locust_operator.api import v2
from locust_operator.api.defaults import apply_defaults_v2
from locust_operator.api.schema import from_json


@dataclass(frozen=True)
class LocustTestSource:
    name: str
    namespace: str | None
    uid: str
    generation: int
    spec: v2.LocustTestSpec
    raw_spec: Mapping[str, Any]  # the spec as written, recorded on the children

    @classmethod
    def parse(cls, test: Mapping[str, Any]) -> LocustTestSource:
        """Parse a v2 LocustTest as read from the apiserver (camelCase dict). Only the
        identity is taken from its metadata: its labels and annotations (which may carry
        conversion.locust.io/* bookkeeping) never reach the children."""
        metadata = test.get("metadata") or {}
        for key in ("name", "uid", "generation"):
            if not metadata.get(key):
                raise ValueError(f"LocustTest metadata.{key} is required to build its children")
        if not isinstance(metadata["generation"], int):
            raise ValueError("LocustTest metadata.generation must be an integer")
        raw_spec = test.get("spec") or {}
        spec = from_json(v2.LocustTestSpec, apply_defaults_v2(raw_spec), path="spec")
        return cls(
            name=str(metadata["name"]),
            namespace=metadata.get("namespace"),
            uid=str(metadata["uid"]),
            generation=metadata["generation"],
            spec=spec,
            raw_spec=raw_spec,
        )

    @property
    def otel(self) -> v2.OpenTelemetry | None:
        """The OpenTelemetry settings when OpenTelemetry is enabled."""
        observability = self.spec.observability
        otel = observability.open_telemetry if observability else None
        return otel if otel is not None and otel.enabled else None
