"""lumaflow.build"""
