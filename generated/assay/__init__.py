"""Assay: import root. ``assay.v1`` is generated code; ``assay.server`` and ``assay.client``
are mapped from the repository's server/ and client/ folders (see pyproject.toml)."""
