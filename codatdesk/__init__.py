"""codatdesk: push expenses to accounting software through Codat."""

__version__ = "0.1.0"
