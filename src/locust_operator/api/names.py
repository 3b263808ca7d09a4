"""Identity of the LocustTest API: group, kind, resource names and versions.

(The names of the objects created for a test are in ``resources/names.py``.)
"""

from __future__ import annotations

GROUP = "locust.io"
KIND = "LocustTest"
LIST_KIND = "LocustTestList"
PLURAL = "locusttests"
SINGULAR = "locusttest"
SHORT_NAMES = ("lotest",)
CRD_NAME = f"{PLURAL}.{GROUP}"

V1 = "v1"
V2 = "v2"
V1_API_VERSION = f"{GROUP}/{V1}"
V2_API_VERSION = f"{GROUP}/{V2}"
V1_DEPRECATION_WARNING = "locust.io/v1 LocustTest is deprecated, migrate to locust.io/v2"
