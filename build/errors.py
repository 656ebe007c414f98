"""The build's own error: what ``lumaflow build`` (and the server, building missing graphs) reports in one line."""

from __future__ import annotations


class BuildError(Exception):
    """A reason a build cannot go on, in one line for the person who ran it."""
