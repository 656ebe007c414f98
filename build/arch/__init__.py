"""Torch architectures, one module each, registered in lumaflow.build.registry."""
