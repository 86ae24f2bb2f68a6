"""proxylens: a programmable HTTP(S) debugging proxy built on mitmproxy."""

__version__ = "0.1.0"
