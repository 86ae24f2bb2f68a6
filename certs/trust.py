"""How to make each client trust the proxylens CA: exact steps, and the environment variables they read.

Two kinds of trust store exist. Some *extend* the built-in CAs with yours
(the OS stores, NSS, NODE_EXTRA_CA_CERTS); give those the CA certificate.
Others *replace* them (curl's CURL_CA_BUNDLE, requests' REQUESTS_CA_BUNDLE,
OpenSSL's SSL_CERT_FILE, git's GIT_SSL_CAINFO); give those the bundle
(system CAs + proxylens CA), or every site that is not intercepted breaks.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from .authority import Authority


def trust_env(ca: Path, bundle: Path) -> dict[str, str]:
    """Environment variables that make common tools trust the CA, for a shell or a wrapped command."""
    return {
        "SSL_CERT_FILE": str(bundle),  # OpenSSL's default store: Python's ssl, httpx, Ruby, Go on Linux; replaces
        "REQUESTS_CA_BUNDLE": str(bundle),  # Python requests (replaces certifi)
        "CURL_CA_BUNDLE": str(bundle),  # curl, and requests reads it too
        "PIP_CERT": str(bundle),  # pip older than 24.2 (newer pip uses the system store)
        "GIT_SSL_CAINFO": str(bundle),  # git over HTTPS
        "AWS_CA_BUNDLE": str(bundle),  # AWS CLI and boto3
        "NODE_EXTRA_CA_CERTS": str(ca),  # Node.js: added to its built-in CAs, read at start-up
        "DENO_CERT": str(ca),  # Deno: added to its CAs
    }


@dataclass(frozen=True)
class Target:
    key: str
    title: str
    steps: str  # str.format fields: ca, bundle, nick, alias, sha1, serial, der_name, q (shell-quoted paths)


TARGETS = (
    Target("debian", "Debian and Ubuntu: the system store (OpenSSL, curl, wget, Python's ssl, Go, apt)", """\
  sudo cp {q_ca} /usr/local/share/ca-certificates/proxylens.crt   # the name must end in .crt
  sudo update-ca-certificates
Chromium, Chrome and Firefox on Linux do not read this store: see chromium and firefox.
Undo: sudo rm /usr/local/share/ca-certificates/proxylens.crt && sudo update-ca-certificates --fresh"""),
    Target("fedora", "Fedora, RHEL, CentOS Stream: the system store (also read by their Firefox and Chromium)", """\
  sudo cp {q_ca} /etc/pki/ca-trust/source/anchors/proxylens.pem
  sudo update-ca-trust
Undo: sudo rm /etc/pki/ca-trust/source/anchors/proxylens.pem && sudo update-ca-trust"""),
    Target("macos", "macOS: the System keychain (Safari, Chrome, Edge, curl, most apps)", """\
  sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {q_ca}
Firefox keeps its own store: see firefox.
Undo: sudo security delete-certificate -Z {sha1} /Library/Keychains/System.keychain"""),
    Target("windows", "Windows: the Trusted Root store (Edge, Chrome, .NET, most apps)", """\
  proxylens certs export --format der -o {der_name}   # then copy the file to the Windows machine
In a PowerShell or cmd window (all users, as Administrator):
  certutil -addstore -f Root {der_name}
or for the current user only (no Administrator; Windows asks you to confirm):
  certutil -user -addstore Root {der_name}
Undo: certutil -delstore Root {serial}   (with -user if you added it that way)"""),
    Target("firefox", "Firefox: its own store, on every OS", """\
  Settings > Privacy & Security > Certificates > View Certificates... > Authorities > Import...
  choose {ca} and tick "Trust this CA to identify websites".
From a shell instead (Firefox closed; certutil is in libnss3-tools / nss-tools), for each profile:
  certutil -d "sql:$HOME/.mozilla/firefox/PROFILE" -A -t "C,," -n {q_nick} -i {q_ca}
On Windows and macOS Firefox can use the OS store instead: about:config >
security.enterprise_roots.enabled = true, after the windows or macos steps.
Undo: Authorities > select "{nick}" > Delete or Distrust."""),
    Target("chromium", "Chrome and Chromium on Linux: the NSS database in ~/.pki/nssdb "
                       "(on macOS and Windows they use the OS store: see macos, windows)", """\
  sudo apt-get install libnss3-tools   # certutil (Fedora: sudo dnf install nss-tools)
  mkdir -p "$HOME/.pki/nssdb"
  [ -f "$HOME/.pki/nssdb/cert9.db" ] || certutil -d "sql:$HOME/.pki/nssdb" -N --empty-password
  certutil -d "sql:$HOME/.pki/nssdb" -A -t "C,," -n {q_nick} -i {q_ca}
Restart the browser. Check: certutil -d "sql:$HOME/.pki/nssdb" -L
Undo: certutil -d "sql:$HOME/.pki/nssdb" -D -n {q_nick}"""),
    Target("python", "Python: requests, httpx, urllib, aiohttp, pip", """\
requests replaces certifi's store with the file you give it, so give it the bundle:
  export REQUESTS_CA_BUNDLE={q_bundle}
httpx, urllib, aiohttp and everything built on ssl.create_default_context() read OpenSSL's variable:
  export SSL_CERT_FILE={q_bundle}
In code:
  requests.get(url, verify={r_bundle})
  httpx.Client(verify=ssl.create_default_context(cafile={r_bundle}))
pip 24.2 and newer use the system store (see debian, fedora, macos, windows); older pip:
  export PIP_CERT={q_bundle}     (or: pip config set global.cert {q_bundle})"""),
    Target("node", "Node.js: fetch, axios, npm, Playwright's and Cypress's Node side", """\
  export NODE_EXTRA_CA_CERTS={q_ca}   # added to Node's built-in CAs; read once when node starts
Node 22.15+ and 23.8+ can use the OS store instead (after the debian/fedora/macos/windows steps):
  export NODE_USE_SYSTEM_CA=1   (or: node --use-system-ca)"""),
    Target("curl", "curl", """\
  curl --cacert {q_ca} https://example.com/      # trusts only the proxylens CA: fine for intercepted hosts
  export CURL_CA_BUNDLE={q_bundle}                # for every curl command (replaces curl's store)"""),
    Target("java", "Java: keytool (JDK 9+; the JDK's store password is changeit)", """\
Into the JDK's own store (as the JDK's owner):
  keytool -importcert -cacerts -storepass changeit -noprompt -alias {alias} -file {q_ca}
Or into a copy, for one build (the property replaces the default store, hence the copy):
  cp "$JAVA_HOME/lib/security/cacerts" proxylens-cacerts
  keytool -importcert -keystore proxylens-cacerts -storepass changeit -noprompt -alias {alias} -file {q_ca}
  export JAVA_TOOL_OPTIONS="-Djavax.net.ssl.trustStore=$PWD/proxylens-cacerts -Djavax.net.ssl.trustStorePassword=changeit"
Undo: keytool -delete -cacerts -storepass changeit -alias {alias}"""),
    Target("git", "git over HTTPS", """\
  git config --global http.sslCAInfo {q_bundle}       # replaces git's store: give it the bundle
or only for one host:
  git config --global http.https://staging.example.com/.sslCAInfo {q_bundle}
or for one command:
  GIT_SSL_CAINFO={q_bundle} git clone https://staging.example.com/repo.git
Undo: git config --global --unset http.sslCAInfo"""),
    Target("env", "Everything else, for one shell: eval \"$(proxylens certs env)\"", "{env}"),
)
TARGET_KEYS = tuple(t.key for t in TARGETS)


def nickname(authority: Authority) -> str:
    """The name the CA gets in NSS and Firefox: its common name plus the start of its fingerprint,
    so the old and the new CA of a same-day rotation never share one (NSS would delete the wrong one)."""
    return f"{authority.subject} {authority.fingerprint.replace(':', '')[:8]}"


def help_text(authority: Authority, bundle: Path, keys: list[str] | None = None) -> str:
    der = authority.cert.public_bytes(serialization.Encoding.DER)
    fields = {
        "ca": str(authority.cert_path), "bundle": str(bundle), "nick": nickname(authority),
        "q_ca": shlex.quote(str(authority.cert_path)), "q_bundle": shlex.quote(str(bundle)),
        "r_bundle": repr(str(bundle)), "q_nick": shlex.quote(nickname(authority)),
        "alias": "proxylens-" + hashlib.sha256(der).hexdigest()[:8],
        "sha1": hashlib.sha1(der).hexdigest().upper(),  # how macOS's security tool names a certificate
        "serial": f"{authority.cert.serial_number:x}", "der_name": "proxylens-ca.cer",
        "env": env_text(authority.cert_path, bundle),
    }
    chosen = [t for t in TARGETS if not keys or t.key in keys]
    head = [f"The proxylens CA: {authority.subject}",
            f"  certificate: {authority.cert_path}",
            f"  bundle (system CAs + this CA, for tools that replace their store): {bundle}",
            f"  SHA-256: {authority.fingerprint}",
            f"  expires: {authority.cert.not_valid_after_utc:%Y-%m-%d}"]
    rules = authority.name_rules
    if rules is not None:
        head.append(f"  may only sign for: {rules.describe()}")
    head.append("Trust only this certificate, never the private key beside it; it stays on this machine.")
    body = [f"== {t.key}: {t.title}\n{t.steps.format(**fields)}" for t in chosen]
    return "\n\n".join(["\n".join(head), *body]) + "\n"


def env_text(ca: Path, bundle: Path) -> str:
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in trust_env(ca, bundle).items())
