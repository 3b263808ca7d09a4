"""The LocustTest resource type (its stored version, v2) as a lightkube generic resource.

Defined apart from the reconciler so that the informers can list and watch LocustTests
before the reconciler and everything it builds with are imported. lightkube registers
generic resources by group, version and kind: defining the same one again (as
``controller/reconciler.py`` does) returns this class.
"""

from __future__ import annotations

from lightkube.generic_resource import create_namespaced_resource

from locust_operator.api.names import GROUP, KIND, PLURAL, V2

LocustTestResource = create_namespaced_resource(GROUP, V2, KIND, PLURAL)
