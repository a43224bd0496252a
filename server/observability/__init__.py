"""Observability: Prometheus metrics and the HTTP health/metrics endpoints."""
