"""What serving models, build and evaluation share: the contract's pixels, decoded, tiled, routed, encoded.

Imports ``lumaflow.contract``, ``lumaflow.params`` and image libraries only, never the declarations, build,
the launcher, the client or load tests; engines only through ``lumaflow.runtime.engines``.
"""
