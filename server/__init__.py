"""Assay server: the process that serves the gRPC API (import path ``assay.server``)."""
