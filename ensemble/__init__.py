"""lumaflow.ensemble"""
