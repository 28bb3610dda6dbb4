"""Run the fake kube-apiserver for the local demo.

python -m devstack.kubeapi --port 6443 --kubeconfig-out var/kubeconfig [--state-file var/kubeapi.json]
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
import threading
from pathlib import Path

from .paths import shared_crd_dir
from .server import FakeKubeAPI


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.kubeapi", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback only unless --allow-remote")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    parser.add_argument("--port", type=int, default=6443, help="0 picks a free port")
    parser.add_argument("--kubeconfig-out", type=Path, default=Path("var/kubeconfig"))
    parser.add_argument("--state-file", type=Path, help="JSON snapshot loaded at start and written at exit")
    parser.add_argument(
        "--crd-dir", type=Path, action="append", help="CRD folder/file (repeatable); default: ../shared/crds"
    )
    parser.add_argument("--no-builtin-crds", action="store_true", help="serve only CRDs from --crd-dir")
    parser.add_argument("--manifests", type=Path, action="append", default=[], help="objects to preload (YAML)")
    parser.add_argument("--token", help="bearer token (default: random; it is written to the kubeconfig only)")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS (kubeconfig gets the CA data)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser.parse_args(argv)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.allow_remote and not _is_loopback(args.host):
        print(f"refusing to listen on {args.host}: a development fake belongs on loopback", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    crd_dirs = args.crd_dir or ([shared_crd_dir()] if shared_crd_dir() else [])
    server = FakeKubeAPI(
        crd_dirs=crd_dirs,
        builtin_crds=not args.no_builtin_crds,
        token=args.token,
        host=args.host,
        port=args.port,
        tls=args.tls,
        verbose=args.verbose,
    )
    if args.state_file and args.state_file.exists():
        count = server.load_state(args.state_file)
        print(f"restored {count} objects from {args.state_file}", file=sys.stderr)
    for manifest in args.manifests:
        server.load_manifests(manifest)
    server.start()
    server.write_kubeconfig(args.kubeconfig_out)
    print(f"fake kube-apiserver at {server.url}; kubeconfig written to {args.kubeconfig_out}", file=sys.stderr)

    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    server.stop()
    if args.state_file:
        server.save_state(args.state_file)
        print(f"state saved to {args.state_file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
