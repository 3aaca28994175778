"""The only modules that do I/O: the Kubernetes API (and, later, Prometheus and the LLM)."""
