"""lumaflow.client"""
