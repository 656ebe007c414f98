"""lumaflow.bench: benchmarks that need torch, an engine or the build, and start their own tritonservers.

Load against a server someone else runs is ``lumaflow.loadtest`` (the client only); what here measures a
served pipeline reuses its report and load helpers.
"""
