"""Assay server package."""
