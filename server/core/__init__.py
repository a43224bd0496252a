"""The bottom layer: domain types, ids, the clock and the domain error tree.

Every other package of the server may import ``core``; ``core`` imports nothing of ours, so
the rest of the package graph can be a stack (see docs/design.md, "Layers").
"""
