"""``proxylens run -- CMD``: the command's environment, and starting it.

The command gets the proxy in every variable HTTP clients read, the
proxylens CA in every variable TLS stacks read (certs.trust_env: the bundle
for tools that replace their store, the certificate for those that extend
it), and the proxy's own address:

- ``HTTP_PROXY``, ``HTTPS_PROXY`` (and lower case), read by curl, requests,
  httpx, Go, k6, axios (via proxy-from-env) and most others;
- ``NODE_USE_ENV_PROXY=1``: Node 22.21+/24.5+ then routes ``fetch`` and
  ``http`` through them (older Node ignores them: use reverse mode);
- ``NO_PROXY`` is set to ``--no-proxy`` (default: empty, so loopback
  origins are judged too; an inherited NO_PROXY would let traffic bypass
  the proxy unseen);
- ``PROXYLENS_PROXY``: the proxy's URL; in reverse mode ``PROXYLENS_URL``,
  the base URL the suite should use instead of the real one.
"""

from __future__ import annotations

import asyncio
import os
from urllib.parse import quote

from certs.export import write_bundle
from certs.trust import trust_env

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")


def command_env(config, port: int, authority) -> dict[str, str]:
    host = config.listen_host if config.listen_host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    if config.proxyauth:  # clients send them as Proxy-Authorization when they are in the proxy URL
        user, _, password = config.proxyauth.partition(":")
        url = f"http://{quote(user, safe='')}:{quote(password, safe='')}@{shown}:{port}"
    env = dict(os.environ)
    for name in (*PROXY_VARS, "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        env.pop(name, None)
    env.update(trust_env(authority.cert_path, write_bundle(authority)))
    env["PROXYLENS_PROXY"] = url
    if config.mode.startswith("reverse"):
        env["PROXYLENS_URL"] = url  # the suite talks to the proxy as if it were the origin
    else:
        env.update({name: url for name in PROXY_VARS})
        env["NODE_USE_ENV_PROXY"] = "1"
        env["NO_PROXY"] = env["no_proxy"] = config.no_proxy
    return env


async def start_command(argv: tuple[str, ...], env: dict[str, str]) -> asyncio.subprocess.Process:
    # Its own process group: a Ctrl-C reaches proxylens only, which forwards it once, and
    # signals sent to proxylens by CI (SIGTERM) reach the command the same way.
    return await asyncio.create_subprocess_exec(*argv, env=env, process_group=0)
