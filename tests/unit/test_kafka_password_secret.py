"""KAFKA_PASSWORD as a Secret reference (issue 12, finding 11): with
KAFKA_PASSWORD_SECRET=<secret>/<key> the Jobs read the password with valueFrom
secretKeyRef; the password is in no Job."""

from __future__ import annotations

import json

import pytest

from locust_operator.config import ConfigError, OperatorConfig
from locust_operator.resources import build_children
from tests.unit.resources.helpers import locust_test

KAFKA = {"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "KAFKA_USERNAME": "locust"}


def test_the_jobs_reference_the_secret_and_hold_no_password() -> None:
    config = OperatorConfig.from_env({**KAFKA, "KAFKA_PASSWORD_SECRET": "kafka-creds/password"})
    assert config.kafka.password_secret == ("kafka-creds", "password")
    children = build_children(locust_test(), config)
    for job in (children.master_job, children.worker_job):
        assert job.spec and job.spec.template.spec
        container = job.spec.template.spec.containers[0]
        [password] = [v for v in container.env or [] if v.name == "KAFKA_PASSWORD"]
        assert password.value is None
        assert password.valueFrom and password.valueFrom.secretKeyRef
        assert (password.valueFrom.secretKeyRef.name, password.valueFrom.secretKeyRef.key) == (
            "kafka-creds",
            "password",
        )


def test_plain_text_still_works_as_before() -> None:
    config = OperatorConfig.from_env({**KAFKA, "KAFKA_PASSWORD": "hunter2"})
    job = build_children(locust_test(), config).worker_job
    assert "hunter2" in json.dumps(job.to_dict())  # the reference's behaviour, documented


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"KAFKA_PASSWORD_SECRET": "kafka-creds"}, "<secret>/<key>"),
        ({"KAFKA_PASSWORD_SECRET": "../x/password"}, "<secret>/<key>"),
        ({"KAFKA_PASSWORD_SECRET": "creds/pass word"}, "<secret>/<key>"),
        (
            {"KAFKA_PASSWORD_SECRET": "creds/password", "KAFKA_PASSWORD": "hunter2"},
            "both set",
        ),
    ],
)
def test_a_bad_reference_stops_startup_naming_the_variable(env: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as error:
        OperatorConfig.from_env({**KAFKA, **env})
    assert error.value.variable == "KAFKA_PASSWORD_SECRET"
