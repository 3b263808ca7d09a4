"""Kubernetes operator for distributed Locust load tests."""

__version__ = "0.1.0"
