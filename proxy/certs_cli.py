"""``proxylens certs``: create, show, export, trust and rotate the interception CA."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import certs
from certs import export, trust
from certs.authority import CERT_FILE, DHPARAM_FILE, KEY_FILE, exists
from certs.files import PUBLIC_FILE, mode_of, write_atomic

from .runner import EXIT_OK, EXIT_USAGE, err


def _days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= certs.MAX_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days between 1 and {certs.MAX_DAYS}")
    return int(text)


def _ca_options(p: argparse.ArgumentParser, rotating: bool) -> None:
    old = "; default: the old CA's" if rotating else ""
    p.add_argument("--permit", action="append", metavar="NAME",
                   help="only let the CA sign for this domain (and its subdomains) or IP network, e.g. "
                        "example.com, staging.internal, 10.0.0.0/8 (repeatable). Clients refuse anything else, "
                        "so a leaked key cannot impersonate other sites; proxylens passes other hosts through "
                        f"untouched{old}")
    p.add_argument("--days", type=_days, metavar="N",
                   help=f"validity in days (default {certs.DEFAULT_DAYS}){old}")
    p.add_argument("--key-type", choices=certs.KEY_TYPES,
                   help=f"ec (P-256, default: fast handshakes) or rsa (2048 bits, for very old clients){old}")


def add_parser(sub) -> None:
    c = sub.add_parser("certs", help="the interception CA: create, show, export, trust, rotate")
    cs = c.add_subparsers(dest="certs_command", required=True, parser_class=type(c))

    init = cs.add_parser("init", help="create the CA (the first `proxylens proxy` creates a default one)")
    _ca_options(init, rotating=False)
    show = cs.add_parser("show", help="describe the CA: subject, fingerprint, validity, constraints, files")
    show.add_argument("--json", action="store_true")
    path = cs.add_parser("path", help="print the path of the CA certificate to trust")
    path.add_argument("--bundle", action="store_true",
                      help="print the path of the bundle (system CAs + proxylens CA) instead, refreshing it")
    ex = cs.add_parser("export", help="write the CA certificate (never the key) as PEM, DER, PKCS#12 or a bundle")
    ex.add_argument("--format", choices=export.FORMATS, default="pem",
                    help="pem (default), der (.cer for Windows), p12 (certificate only) or bundle "
                         "(system CAs + proxylens CA)")
    ex.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: standard output)")
    th = cs.add_parser("trust-help", help="exact steps to trust the CA in each OS, browser and tool")
    th.add_argument("targets", nargs="*", metavar="TARGET",
                    help=f"only these: {', '.join(trust.TARGET_KEYS)} (default: all)")
    cs.add_parser("env", help="print `export` lines of the variables tools read, for eval \"$(proxylens certs env)\"")
    rot = cs.add_parser("rotate", help="replace the CA with a new one (the old one is kept as a backup)")
    _ca_options(rot, rotating=True)
    rot.add_argument("--unconstrained", action="store_true", help="drop the old CA's name constraints")
    ins = cs.add_parser("inspect", help="describe the certificates in a PEM or DER file, as the TLS analyzer does")
    ins.add_argument("file", metavar="FILE")
    ins.add_argument("--host", help="also say whether the first certificate covers HOST")


def run(args: argparse.Namespace) -> int:
    try:
        return COMMANDS[args.certs_command](args)
    except certs.CAError as exc:
        err(f"error: {exc}")
        return EXIT_USAGE
    except OSError as exc:
        err(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return EXIT_USAGE


def _rules(values: list[str] | None) -> certs.NameRules | None:
    if not values:
        return None
    try:
        return certs.NameRules.permit(values)
    except ValueError as exc:
        raise certs.CAError(f"--permit {exc}") from None


def _ready() -> certs.Authority:
    """The CA, created on first use; warnings and the creation are reported on stderr."""
    authority, warnings, created = certs.ensure(certs.config_dir())
    for w in warnings:
        err(f"warning: {w}")
    if created:
        err(f"created a new CA: {authority.subject}, valid until {authority.cert.not_valid_after_utc:%Y-%m-%d}")
    return authority


def cmd_init(args) -> int:
    authority = certs.create(certs.config_dir(), args.days or certs.DEFAULT_DAYS, _rules(args.permit),
                             args.key_type or "ec")
    print(f"created {authority.subject}\n  certificate: {authority.cert_path}\n  SHA-256: {authority.fingerprint}\n"
          f"  valid until {authority.cert.not_valid_after_utc:%Y-%m-%d}")
    rules = authority.name_rules
    if rules is not None:
        print(f"  may only sign for: {rules.describe()}")
    print("Next: trust it in your browser or tool: proxylens certs trust-help")
    return EXIT_OK


def cmd_show(args) -> int:
    from certs.chain import describe

    directory = certs.config_dir()
    if not exists(directory):
        raise certs.CAError(f"there is no CA in {directory} yet: `proxylens certs init` creates one "
                            "(so does the first `proxylens proxy`)")
    authority, warnings = certs.load(directory)
    try:
        warnings += authority.validity_warnings()
    except certs.CAError as exc:
        warnings.append(str(exc))
    files = {str(directory / name): mode_of(directory / name)
             for name in (KEY_FILE, CERT_FILE, DHPARAM_FILE, export.BUNDLE_FILE) if (directory / name).exists()}
    info = describe(authority.cert)
    if args.json:
        print(json.dumps({"certificate": info.facts(), "fingerprint_sha256": authority.fingerprint,
                          "days_left": round(authority.days_left(), 1), "directory": str(directory),
                          "files": files, "warnings": warnings}, indent=2))
        return EXIT_OK
    print(f"{authority.subject}\n  subject: {info.subject}\n  SHA-256: {authority.fingerprint}\n"
          f"  valid: {info.not_before:%Y-%m-%d} to {info.not_after:%Y-%m-%d} ({authority.days_left():.0f} days left)\n"
          f"  key: {info.key_type} {info.key_bits}{f' ({info.curve})' if info.curve else ''}, "
          f"signed with {info.signature_algorithm}\n"
          f"  may sign for: {info.name_constraints or 'any name (no name constraints)'}")
    for path, mode in files.items():
        print(f"  {mode}  {path}")
    for w in warnings:
        print(f"warning: {w}")
    return EXIT_OK


def cmd_path(args) -> int:
    authority = _ready()
    print(export.write_bundle(authority) if args.bundle else authority.cert_path)
    return EXIT_OK


def cmd_export(args) -> int:
    authority = _ready()
    data = export.encode(authority, args.format)
    if args.output and args.output != "-":
        write_atomic(Path(args.output), data, PUBLIC_FILE)
        err(f"wrote {args.output} ({args.format}, {len(data)} bytes)")
        return EXIT_OK
    if args.format in ("der", "p12") and sys.stdout.isatty():
        raise certs.CAError(f"{args.format} is binary: add -o FILE")
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return EXIT_OK


def cmd_trust_help(args) -> int:
    unknown = [t for t in args.targets if t not in trust.TARGET_KEYS]
    if unknown:
        raise certs.CAError(f"unknown target {', '.join(unknown)}: choose from {', '.join(trust.TARGET_KEYS)}")
    authority = _ready()
    print(trust.help_text(authority, export.write_bundle(authority), args.targets), end="")
    return EXIT_OK


def cmd_env(args) -> int:
    authority = _ready()
    print(trust.env_text(authority.cert_path, export.write_bundle(authority)))
    return EXIT_OK


def cmd_rotate(args) -> int:
    directory = certs.config_dir()
    done = certs.rotate(directory, args.days, _rules(args.permit), args.key_type, args.unconstrained)
    new = done.authority
    export.write_bundle(new)
    print(f"created {new.subject}\n  certificate: {new.cert_path}\n  SHA-256: {new.fingerprint}\n"
          f"  valid until {new.cert.not_valid_after_utc:%Y-%m-%d}")
    if new.name_rules is not None:
        print(f"  may only sign for: {new.name_rules.describe()}")
    if done.backup is None:
        print("There was no CA to replace.")
        return EXIT_OK
    old = f"{done.old.subject} (SHA-256 {done.old.fingerprint})" if done.old else "the old CA (unreadable)"
    print(f"""The old CA, {old}, is now in {done.backup} (private to you).

Re-trust: every client that trusted the old CA rejects the new one until you
trust it, and still trusts the old one until you remove it:
  - OS stores, browsers (NSS, Firefox), Java keystores, phones, and CI images
    or machines you copied the certificate to: remove the old one, add the new
    one (`proxylens certs trust-help` shows how, per client);
  - tools set up with `proxylens certs env` or the bundle need nothing: the
    bundle and the certificate path now hold the new CA (restart them).
A proxylens that is running keeps signing with the old CA until you restart it.""")
    return EXIT_OK


def cmd_inspect(args) -> int:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from certs.chain import describe_chain

    raw = Path(args.file).read_bytes()
    try:
        parsed = x509.load_pem_x509_certificates(raw) if b"-----BEGIN" in raw else [x509.load_der_x509_certificate(raw)]
    except ValueError as exc:
        raise certs.CAError(f"{args.file} holds no PEM or DER certificate ({str(exc)[:120]})") from None
    chain = describe_chain(tuple(c.public_bytes(serialization.Encoding.DER) for c in parsed))
    report = {"file": os.path.abspath(args.file), "in_order": chain.in_order,
              "certificates": [c.facts() for c in chain.certs]}
    if args.host:
        report["covers_host"] = {args.host: chain.covers(args.host)}
    print(json.dumps(report, indent=2))
    return EXIT_OK


COMMANDS = {"init": cmd_init, "show": cmd_show, "path": cmd_path, "export": cmd_export,
            "trust-help": cmd_trust_help, "env": cmd_env, "rotate": cmd_rotate, "inspect": cmd_inspect}
