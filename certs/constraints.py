"""Name constraints: a CA that can only sign for the names you permit.

``proxylens certs init --permit example.com`` writes an RFC 5280 §4.2.1.10
nameConstraints extension into the CA. Clients that check it (OpenSSL,
Chromium, Firefox, Go, Java, Apple and Windows) then refuse any certificate
it signs for other names, so a leaked key cannot impersonate a bank.

Matching follows RFC 5280 §4.2.1.10: "any DNS name that can be constructed by
simply adding zero or more labels to the left-hand side of the name satisfies
the name constraint", so ``example.com`` covers ``example.com`` and
``api.example.com`` but not ``badexample.com``. Constraints apply per name
type; a CA that permits only DNS names would still be free to sign for any IP
address. As the CA/Browser Forum requires of technically constrained CAs
(Baseline Requirements §7.1.2.5.2), the type you do not permit is excluded
entirely: all of IPv4 and IPv6, or every DNS name (a zero-length dNSName).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from cryptography import x509

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ALL_IPS = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
WHY = "a permitted name covers itself and every subdomain (RFC 5280 §4.2.1.10)"


def _dns_name(text: str) -> str:
    name = text.strip().rstrip(".").lower()
    if name.startswith(("*.", ".")):
        raise ValueError(f"{text!r}: write {name.lstrip('*.')!r} instead; {WHY}")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{text!r} is not a valid domain name") from None
    labels = name.split(".")
    if not name or any(not label or len(label) > 63 or not all(c.isalnum() or c == "-" for c in label)
                       for label in labels):
        raise ValueError(f"{text!r} is not a domain name or an IP network (e.g. example.com, 10.0.0.0/8)")
    return name


def within(host: str, name: str) -> bool:
    """RFC 5280 dNSName matching: *host* is *name* with zero or more labels added on the left."""
    return not name or host == name or host.endswith("." + name)


@dataclass(frozen=True)
class NameRules:
    permitted_dns: tuple[str, ...] = ()
    permitted_ips: tuple[IPNetwork, ...] = ()
    excluded_dns: tuple[str, ...] = ()
    excluded_ips: tuple[IPNetwork, ...] = ()

    @classmethod
    def permit(cls, values: list[str] | tuple[str, ...]) -> NameRules:
        """Rules that permit exactly *values* (domains or IP networks) and nothing else.

        Raises ValueError naming the bad value.
        """
        dns: list[str] = []
        ips: list[IPNetwork] = []
        for value in values:
            try:
                ips.append(ipaddress.ip_network(value.strip(), strict=False))
            except ValueError:
                dns.append(_dns_name(value))
        if not dns and not ips:
            raise ValueError("--permit needs at least one domain or IP network")
        return cls(tuple(dict.fromkeys(dns)), tuple(dict.fromkeys(ips)),
                   () if dns else ("",), () if ips else ALL_IPS)

    @classmethod
    def of(cls, cert: x509.Certificate) -> NameRules | None:
        """The certificate's name constraints, or None when it has none."""
        try:
            nc = cert.extensions.get_extension_for_class(x509.NameConstraints).value
        except x509.ExtensionNotFound:
            return None

        def split(subtrees):
            subtrees = subtrees or []
            return (tuple(s.value.lower() for s in subtrees if isinstance(s, x509.DNSName)),
                    tuple(s.value for s in subtrees if isinstance(s, x509.IPAddress)))

        pd, pi = split(nc.permitted_subtrees)
        ed, ei = split(nc.excluded_subtrees)
        return cls(pd, pi, ed, ei)

    def extension(self) -> x509.NameConstraints:
        def subtrees(dns, ips):
            return [*(x509.DNSName(n) for n in dns), *(x509.IPAddress(n) for n in ips)] or None

        return x509.NameConstraints(subtrees(self.permitted_dns, self.permitted_ips),
                                    subtrees(self.excluded_dns, self.excluded_ips))

    def permits(self, host: str) -> bool:
        """Would a verifier accept a certificate for *host* signed under these rules?"""
        host = host.strip("[]").rstrip(".").lower()
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is not None:
            if any(ip in n for n in self.excluded_ips if n.version == ip.version):
                return False
            return not self.permitted_ips or any(ip in n for n in self.permitted_ips if n.version == ip.version)
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return False
        if any(within(host, n) for n in self.excluded_dns):
            return False
        return not self.permitted_dns or any(within(host, n) for n in self.permitted_dns)

    def describe(self) -> str:
        """One line: what the CA may sign for."""
        allowed = [*self.permitted_dns, *(str(n) for n in self.permitted_ips)]
        text = ", ".join(allowed) if allowed else "any name"
        denied = [n or "every DNS name" for n in self.excluded_dns] + \
                 [str(n) for n in self.excluded_ips if n not in ALL_IPS]
        if set(ALL_IPS) <= set(self.excluded_ips):
            denied.append("any IP address")
        return f"{text} (not {', '.join(denied)})" if denied else text
