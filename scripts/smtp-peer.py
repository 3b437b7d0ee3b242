#!/usr/bin/env python3
"""A real SMTP server for PrintScout's tests: aiosmtpd 1.4.6 on one loopback address.

Each accepted message is saved as NNNN.eml (the bytes as received), then NNNN.meta
(`key=value` lines: mail_from, rcpt_to (one line each), encrypted=0|1, auth_user),
each written to a temporary name, synced and renamed, so a reader that finds the
.meta finds the whole message.

usage (from the venv scripts/setup.sh makes):
  smtp-peer.py --listen 127.0.0.5:2525 --spool DIR [--ready-file FILE]
               [--tls-cert CERT --tls-key KEY (--starttls | --starttls-required | --implicit-tls)]
               [--auth-user USER [--auth-over-plain]]

  --starttls           offer STARTTLS (optional for the client)
  --starttls-required  offer STARTTLS and refuse MAIL before it (530)
  --implicit-tls       TLS from the first byte (smtps)
  --auth-user USER     offer AUTH PLAIN and LOGIN, require it for MAIL; the password is
                       read from the environment variable SMTP_PEER_PASSWORD, else from
                       the first line of stdin -- never from the command line
  --auth-over-plain    also offer AUTH on a connection that is not encrypted (aiosmtpd
                       offers it only after TLS by default)

The ready file is written (with the port) once the server listens. SIGTERM stops it.
The password is compared and forgotten: it is never logged or written.
"""

import argparse
import asyncio
import hmac
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def parse_args():
    p = argparse.ArgumentParser(description="SMTP peer for PrintScout tests")
    p.add_argument("--listen", required=True, help="HOST:PORT (loopback only)")
    p.add_argument("--spool", required=True, help="directory for received messages")
    p.add_argument("--ready-file")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--starttls", action="store_true")
    mode.add_argument("--starttls-required", action="store_true")
    mode.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--auth-user")
    p.add_argument("--auth-over-plain", action="store_true")
    args = p.parse_args()
    host, _, port = args.listen.rpartition(":")
    if not host.startswith("127."):
        p.error("--listen must be a 127.0.0.0/8 address")
    args.host, args.port = host, int(port)
    tls = args.starttls or args.starttls_required or args.implicit_tls
    if tls and not (args.tls_cert and args.tls_key):
        p.error("TLS modes need --tls-cert and --tls-key")
    return args


class Spool:
    """Saves each message as NNNN.eml + NNNN.meta, atomically."""

    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        os.makedirs(directory, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        stem = os.path.join(self.directory, f"{self.count:04d}")
        transport = server.transport
        encrypted = transport is not None and transport.get_extra_info("ssl_object") is not None
        login = None
        if session.authenticated and isinstance(session.auth_data, bytes):
            login = session.auth_data.decode("utf-8", "replace")
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        lines = [f"mail_from={envelope.mail_from}"]
        lines += [f"rcpt_to={r}" for r in envelope.rcpt_tos]
        lines += [f"encrypted={1 if encrypted else 0}", f"auth_user={login or ''}"]
        meta = ("\n".join(lines) + "\n").encode()
        # The message first, then its .meta: a reader that sees the .meta sees both.
        for suffix, data in ((".eml", content), (".meta", meta)):
            tmp = stem + suffix + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, stem + suffix)
        print(f"smtp-peer: message {self.count} from {envelope.mail_from} to "
              f"{envelope.rcpt_tos} ({len(content)} bytes, encrypted={encrypted}, "
              f"auth_user={login})", file=sys.stderr, flush=True)
        return "250 Message accepted for delivery"


class Authenticator:
    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and hmac.compare_digest(auth_data.login, self.user)
              and hmac.compare_digest(auth_data.password, self.password))
        login = auth_data.login.decode("utf-8", "replace") if isinstance(
            auth_data, LoginPassword) else "?"
        print(f"smtp-peer: AUTH {mechanism} as {login}: {'accepted' if ok else 'refused'}",
              file=sys.stderr, flush=True)
        # Keep only the login in the session (the handler records it).
        return AuthResult(success=ok, handled=False,
                          auth_data=auth_data.login if ok else None)


def read_password():
    value = os.environ.pop("SMTP_PEER_PASSWORD", None)
    if value is None:
        value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        sys.exit("smtp-peer: --auth-user needs a password (SMTP_PEER_PASSWORD or stdin)")
    return value


def main():
    args = parse_args()
    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    authenticator = Authenticator(args.auth_user, read_password()) if args.auth_user else None
    spool = Spool(args.spool)

    def factory():
        kwargs = dict(hostname="smtp-peer.test", ident="PrintScout test SMTP peer")
        if args.starttls or args.starttls_required:
            kwargs.update(tls_context=context, require_starttls=args.starttls_required)
        if authenticator is not None:
            kwargs.update(
                authenticator=authenticator,
                auth_required=True,
                # With implicit TLS the whole connection is encrypted, but aiosmtpd
                # only counts STARTTLS as TLS; so require TLS for AUTH only in the
                # STARTTLS modes (or never, with --auth-over-plain).
                auth_require_tls=not (args.implicit_tls or args.auth_over_plain),
            )
        return SMTP(spool, **kwargs)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        factory, host=args.host, port=args.port,
        ssl=context if args.implicit_tls else None, reuse_address=True))
    port = server.sockets[0].getsockname()[1]
    print(f"smtp-peer: listening on {args.host}:{port}", file=sys.stderr, flush=True)
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.rename(tmp, args.ready_file)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    try:
        loop.run_forever()
    finally:
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()


if __name__ == "__main__":
    main()
