"""Generated protobuf and gRPC code for package ``assay.v1`` (do not edit; see scripts/generate)."""
