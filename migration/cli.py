"""``kubevirt2proxmox`` command line (also ``manage.py kubevirt2proxmox``); pure Python, no Django."""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path

from migration.core import (
    DEFAULT_LIMITS,
    InputError,
    Mappings,
    convert,
    load_documents,
    render_json,
    render_markdown,
    render_summary_table,
    render_yaml,
)
from migration.core.disks import safe_name

EXIT_OK = 0
EXIT_CRITICAL = 1
EXIT_INVALID = 2

_EPILOG = """\
map files (small YAML or JSON):
  --network-map:   pod: {bridge: vmbr0}
                   networks: {"tenant-demo/subnet-1": {bridge: vmbr1, vlan: 100}}
                   default: {bridge: vmbr0}
                   cluster: {ipv4Config: {addresses: ["10.0.0.10-10.0.0.50"], prefix: 24, gateway: 10.0.0.1},
                             dnsServers: [10.0.0.1]}
  --storage-map:   storageClasses: {replicated: ceph-rbd, local: {storage: local-lvm, format: raw}}
                   default: local-lvm
                   efi: local-lvm          # efidisk0, tpmstate0, cloud-init drive
                   snippets: local         # storage holding cicustom user-data snippets
                   node: pve1              # node receiving exported disk images
                   importDir: /var/lib/vz/import
  --template-map:  sources: {"quay.io/containerdisks/fedora:41": {templateID: 9000, sourceNode: pve1},
                             "datasource:os-images/rhel9": {matchTags: [rhel9]}}
                   default: {matchTags: [kubevirt-import]}
  Unmapped networks, storage classes and boot sources use the defaults and raise a concern.

output (-o DIR): <namespace>_<name>.<ext> per VM (qm config, cloud-init, capmox objects, concerns, disk plan),
  <namespace>_<cluster>_cluster.<ext> per CAPK cluster, snippets/ (cloud-init user data for cicustom),
  report.md and report.json. Without -o the whole result goes to stdout and the summary table to stderr.

exit codes: 0 converted, 1 a Critical concern remains (--strict), 2 invalid input.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubevirt2proxmox",
        description="Convert KubeVirt VMs (and CAPK clusters) into Proxmox VE configs and capmox objects.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser(
        "convert",
        help="convert manifests into migration plans",
        description="Convert KubeVirt manifests (YAML/JSON, multi-document, '-' for stdin) into migration plans.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    conv.add_argument("inputs", nargs="+", metavar="INPUT", help="manifest file, or - for stdin")
    conv.add_argument("-o", "--output-dir", metavar="DIR", help="write <namespace>_<name>.<ext> plan files here")
    conv.add_argument("--network-map", metavar="FILE", help="network map (pod/multus -> bridge + VLAN)")
    conv.add_argument("--storage-map", metavar="FILE", help="storage map (storageClass -> Proxmox storage)")
    conv.add_argument("--template-map", metavar="FILE", help="template map (boot source -> Proxmox template)")
    conv.add_argument("--definitions", metavar="FILE", action="append", default=[],
                      help="extra instancetype/preference definitions (repeatable)")  # fmt: skip
    conv.add_argument("--format", choices=("yaml", "json"), default="yaml", help="plan file format (default yaml)")
    conv.add_argument("--strict", action="store_true", help="exit 1 when any Critical concern remains")
    return parser


def _read(name: str) -> tuple[bytes, str]:
    limit = DEFAULT_LIMITS.max_bytes
    if name == "-":
        data = sys.stdin.buffer.read(limit + 1)
        source = "<stdin>"
    else:
        source = name
        try:
            with open(name, "rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            raise InputError(f"cannot read input: {exc.strerror}", source=source) from None
    if len(data) > limit:
        raise InputError(f"input is over the limit of {limit} bytes", source=source)
    return data, source


def _unique(stem: str, used: set[str]) -> str:
    stem = safe_name(stem)
    candidate, n = stem, 2
    while candidate in used:
        candidate = f"{stem}-{n}"
        n += 1
    used.add(candidate)
    return candidate


def _write_outputs(result, out_dir: Path, fmt: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    render = render_json if fmt == "json" else render_yaml
    used: set[str] = set()
    written = []
    for item in [*result.plans, *result.clusters]:
        path = out_dir / f"{_unique(item.file_stem, used)}.{fmt}"
        path.write_text(render(item), encoding="utf-8")
        written.append(path)
    for plan in result.plans:
        cloud = plan.cloud_init or {}
        if cloud.get("userData") is not None:
            content = cloud["userData"].encode("utf-8")
        elif cloud.get("userDataBase64") is not None:
            content = base64.b64decode(cloud["userDataBase64"])
        else:
            continue
        # the file cicustom points at; upload it to the snippets storage
        snippets = out_dir / "snippets"
        snippets.mkdir(exist_ok=True)
        (snippets / safe_name(cloud["snippet"].rsplit("/", 1)[-1])).write_bytes(content)
    (out_dir / "report.md").write_text(render_markdown(result), encoding="utf-8")
    (out_dir / "report.json").write_text(render_json(result), encoding="utf-8")
    return written


def _convert(args: argparse.Namespace) -> int:
    documents = []
    for name in args.inputs:
        data, source = _read(name)
        documents += load_documents(data, DEFAULT_LIMITS, source)
        if len(documents) > DEFAULT_LIMITS.max_documents:
            raise InputError(f"more than {DEFAULT_LIMITS.max_documents} documents in total")
    mappings = Mappings.from_files(args.network_map, args.storage_map, args.template_map)
    definitions = []
    for name in args.definitions:
        data, source = _read(name)
        definitions += load_documents(data, DEFAULT_LIMITS, source)
    result = convert(documents, mappings, DEFAULT_LIMITS, definitions)
    table = render_summary_table(result)
    if args.output_dir:
        written = _write_outputs(result, Path(args.output_dir), args.format)
        sys.stdout.write(table)
        sys.stdout.write(f"\n{len(written)} plan file(s) written to {args.output_dir}\n")
    else:
        sys.stdout.write(render_json(result) if args.format == "json" else render_yaml(result))
        sys.stderr.write(table)
    if args.strict and result.has_critical():
        sys.stderr.write("kubevirt2proxmox: Critical concerns remain (--strict)\n")
        return EXIT_CRITICAL
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help
        return int(exc.code or 0)
    try:
        return _convert(args)
    except InputError as exc:
        sys.stderr.write(f"kubevirt2proxmox: invalid input: {exc}\n")
        return EXIT_INVALID


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
