"""lumaflow.server"""
