"""Shared by the CLI's tests: the JUnit schema check."""

from __future__ import annotations

from pathlib import Path

import xmlschema

JUNIT_XSD = Path(__file__).with_name("junit.xsd")


def assert_valid_junit(text: str) -> None:
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(text)
