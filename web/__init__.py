"""``lumaflow web``: the web page in front of Lumaflow servers (``lumaflow.web.app``)."""
