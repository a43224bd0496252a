"""Assay client: a typed wrapper over the generated gRPC stubs and the ``assay`` CLI."""
