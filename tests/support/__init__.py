"""Shared test helpers: waiting with clear failure messages, Kubernetes object builders."""
