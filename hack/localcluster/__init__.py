"""A real, local Kubernetes control plane for tests and the demo.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake nodes that
play the kubelet) run as child processes on loopback only. See cluster.LocalCluster.
"""

from .cluster import ComponentFailed, LocalCluster

__all__ = ["ComponentFailed", "LocalCluster"]
