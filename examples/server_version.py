"""No Server version leak.

Enforces: responses do not advertise the software stack's versions.

- ``Server``: flagged only when it carries a version (``nginx/1.25.3``, ``Apache/2.4.57 (Debian)``,
  ``Jetty(9.4.44.v20210927)``). A bare product name (``nginx``, ``Express``, ``cloudflare``) is fine:
  RFC 9110 section 10.2.4 defines the field, and clients use it to work around known server bugs.
- ``X-Powered-By``: always flagged, with or without a version. No specification defines it and no client
  needs it; it exists only to advertise the framework (``Express``, ``PHP/8.2.1``, ``ASP.NET``).
- ``X-AspNet-Version``, ``X-AspNetMvc-Version``: always flagged; their value is a version.

Why: RFC 9110 section 10.2.4 says an origin server SHOULD NOT send "needlessly fine-grained detail",
which can make it "(slightly) easier for attackers to find and exploit known security holes"; the OWASP
Secure Headers Project lists all four among the headers to remove. Severity info, not warning: a version
is not a vulnerability, and hiding it does not patch anything (attackers fingerprint servers anyway, see
OWASP WSTG-INFO-02); it is cheap hygiene. A policy can still make it fail CI (see README.md).

Load: ``proxylens proxy -s examples/server_version.py`` or ``--check examples.server_version``.
"""

import re

from proxy import Analysis, Severity, analyzer, rule

LEAK = rule(
    "security.server-version-leak", Severity.INFO,
    "A response header reveals the server's software stack or its version.",
    reference="https://www.rfc-editor.org/rfc/rfc9110#section-10.2.4",
    detail="Versions tell an attacker which known vulnerabilities to try first. Drop `X-Powered-By`, "
           "`X-AspNet-Version` and `X-AspNetMvc-Version`, and cut `Server` to the product name (nginx: "
           "`server_tokens off`; Apache: `ServerTokens Prod`; Express: `app.disable('x-powered-by')`; "
           "ASP.NET: `enableVersionHeader=\"false\"`). See https://owasp.org/www-project-secure-headers/ "
           "and https://owasp.org/www-project-web-security-testing-guide/latest/4-Web_Application_Security_"
           "Testing/01-Information_Gathering/02-Fingerprint_Web_Server",
)
# A version: "/1.25.3", "/2", "/v8" after a product name (not "dcb/7F83", a node id), or a dotted number.
VERSION = re.compile(r"/\s*v?\d+(?:\.[\w-]+)*(?=$|[\s;,()])|(?<![\w.-])v?\d+\.\d+")
HEADERS = ("Server", "X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version")
ALWAYS = HEADERS[1:]  # no protocol function at all: flagged even without a version


@analyzer("server_version")
def server_version(exchange):
    response = exchange.response
    if response is None:
        return
    disclosed = {}
    for name in HEADERS:
        for value in response.headers.get_all(name):  # look-ups are case-insensitive
            versioned = VERSION.search(value) is not None
            if not (versioned or name in ALWAYS):
                continue
            disclosed[name] = value[:200]
            what = "reveals a version" if versioned else "names the framework"
            yield LEAK.finding(f"{name} {what}: {value[:80]}", subject=f"response.header.{name.lower()}",
                               evidence={"header": name, "value": value[:200], "version": versioned})
    if disclosed:  # facts: stored under "server_version" in the HAR, shown by --explain
        yield Analysis(facts={"disclosed": disclosed})
