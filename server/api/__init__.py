"""The gRPC edge: servicers, interceptors and proto<->domain conversion.

The only server package that imports the generated ``assay.v1`` code.
"""
