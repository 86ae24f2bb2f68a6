"""proxylens-test-pack: flags a Server header that discloses the server software's version.

Its entry point (group ``proxylens.checks``) names this module; proxylens takes every analyzer defined here.
"""

from __future__ import annotations

import re

from proxy import Analysis, Severity, analyzer, rule

SERVER_VERSION = rule(
    "testpack.server-version-disclosed",
    Severity.WARNING,
    "The Server header discloses the server software's version.",
    reference="https://www.rfc-editor.org/rfc/rfc9110#section-10.2.4",
    detail="Send a `Server` header without version numbers, or none at all.",
)

VERSIONED = re.compile(r"/\d")


@analyzer("test-pack")
def server_version(exchange):
    """Facts: the Server header; a finding when it carries a version number."""
    if exchange.response is None:
        return
    server = exchange.response.headers.get("server")
    yield Analysis(facts={"server": server})
    if server and VERSIONED.search(server):
        yield SERVER_VERSION.finding(f"Server: {server}", subject="response.header.server",
                                     evidence={"server": server})
