"""`locust-operator test`: run a locustfile on the cluster (or locally), follow it to a
verdict, and manage the tests it started.

Kept off the operator's import path: `locust-operator run` imports only :mod:`.options`
(argparse), the rest (rich, lightkube's sync client) loads when a `test` command runs.
"""
