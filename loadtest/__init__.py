"""lumaflow.loadtest"""
