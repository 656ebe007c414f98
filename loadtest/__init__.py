"""lumaflow.loadtest: load against a running server, through the client (perf_analyzer, photos, cameras, overload).

Benchmarks that start their own servers or need torch, an engine or the build are ``lumaflow.bench``.
"""
