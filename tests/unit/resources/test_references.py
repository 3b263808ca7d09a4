from __future__ import annotations

from locust_operator.resources.references import config_map_names
from locust_operator.resources.source import LocustTestSource

from .helpers import locust_test


def test_every_config_map_the_pods_use_is_named_once_in_spec_order() -> None:
    test = locust_test(
        testFiles={"configMapRef": "scripts", "libConfigMapRef": "lib"},
        env={"configMapRefs": [{"name": "settings"}, {"name": "scripts", "prefix": "X_"}]},
    )
    spec = LocustTestSource.parse(test).spec
    assert config_map_names(spec) == ["scripts", "lib", "settings"]


def test_a_test_without_config_maps_names_none() -> None:
    test = locust_test()
    del test["spec"]["testFiles"]
    assert config_map_names(LocustTestSource.parse(test).spec) == []
