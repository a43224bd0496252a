"""Bounds on manifest input, so a hostile file or directory costs a diagnostic, not the server.

One frozen :class:`ManifestLimits` value is passed to the tree reader
(:mod:`~assay.server.inventory.tree`), the parser (:mod:`~assay.server.inventory.parse`) and
:func:`~assay.server.inventory.manifests.read_manifests`. The defaults fit real repositories
(a rendered chart, a GitOps tree, ``kubectl get -o yaml`` of a namespace) with room to spare
while keeping one run's memory to a few hundred MiB; every limit that is hit becomes a
diagnostic naming it, and the run goes on with what is within bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestLimits:
    """How much manifest input one run reads, and how it may be shaped."""

    max_file_bytes: int = 16 * MiB
    """A file larger than this is not read (its size is checked before reading, and the read
    stops one byte past it in case the file grows). The API server itself refuses objects
    over 1.5 MiB, so only very large ``List`` dumps come near."""

    max_total_bytes: int = 64 * MiB
    """Bytes read over the whole tree; the file that would cross it and every file after it
    are not read (one diagnostic says how many)."""

    max_files: int = 10_000
    """Manifest files (``.yaml``, ``.yml``, ``.json``) taken from a directory tree; the walk
    stops after this many, with a diagnostic."""

    max_documents_per_file: int = 10_000
    """YAML documents (``---``-separated) read from one file; the rest of the file is left
    unread, with a diagnostic."""

    max_depth: int = 64
    """Nesting of mappings and sequences in one document, YAML and JSON alike (a Pod spec
    needs about 12). A deeper document is skipped with a diagnostic; the file's other
    documents and the other files are still read."""

    max_document_nodes: int = 1_000_000
    """Values in one document counted with every YAML alias expanded, so a kilobyte of
    anchors that stands for billions of values (a "billion laughs" document) is skipped
    with a diagnostic. Aliases are shared, not copied, so memory follows the input size;
    this bounds the work of anything that walks the object. A 16 MiB ``List`` of realistic
    objects holds under a million values."""

    max_diagnostics: int = 100
    """Diagnostics kept for a run; the rest are counted in one closing diagnostic
    ("and 99,900 more problems not shown") so the run record stays small."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if type(value) is not int or value < 1:
                raise ValueError(f"ManifestLimits.{field.name} must be a positive integer")


DEFAULT_LIMITS = ManifestLimits()
