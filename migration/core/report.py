"""Human (Markdown) and machine (JSON/YAML) renderings of a conversion; all deterministic."""

from __future__ import annotations

import json

import yaml

from .model import ClusterPlan, ConversionResult, MigrationPlan

_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
    """Never emit anchors/aliases: plan files must read the same to any YAML consumer."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def render_json(result: ConversionResult | MigrationPlan | ClusterPlan, indent: int | None = 2) -> str:
    return json.dumps(result.to_dict(), indent=indent, ensure_ascii=False) + "\n"


def render_yaml(result: ConversionResult | MigrationPlan | ClusterPlan) -> str:
    return yaml.dump(result.to_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def summary_rows(result: ConversionResult) -> list[dict]:
    rows = []
    for plan in result.plans:
        s = plan.summary
        rows.append(
            {
                "vm": f"{plan.namespace or 'default'}/{plan.name}",
                "kind": plan.source["kind"],
                "vcpus": s["vcpus"],
                "topology": f"{s['sockets']}x{s['cores']}x{s['threads']}",
                "memoryMiB": s["memoryMiB"],
                "bootDisk": f"{s['bootDisk']} {s['bootDiskGiB'] or '?'}G" if s["bootDisk"] else "-",
                "nics": len(s["nics"]),
                "critical": s["concerns"]["Critical"],
                "warning": s["concerns"]["Warning"],
                "information": s["concerns"]["Information"],
            }
        )
    return rows


def render_summary_table(result: ConversionResult) -> str:
    header = "| VM | kind | vCPUs | sockets x cores x threads | memory MiB | boot disk | NICs | C | W | I |"
    lines = [header, "|" + "---|" * 10]
    for row in summary_rows(result):
        lines.append("| " + " | ".join(_cell(v) for v in row.values()) + " |")
    for cluster in result.clusters:
        crit = sum(1 for c in cluster.concerns if c.category == "Critical")
        warn = sum(1 for c in cluster.concerns if c.category == "Warning")
        info = sum(1 for c in cluster.concerns if c.category == "Information")
        lines.append(
            f"| {_cell((cluster.namespace or 'default') + '/' + cluster.name)} | CAPK cluster "
            f"({len(cluster.objects)} objects) | - | - | - | - | - | {crit} | {warn} | {info} |"
        )
    return "\n".join(lines) + "\n"


def _plan_markdown(plan: MigrationPlan) -> list[str]:
    src = plan.source
    out = [f"## {plan.namespace or 'default'}/{plan.name}", ""]
    out.append(f"Source: {src['kind']} `{src['name']}` from {src['file']} (document {src['document']})")
    out += ["", "### Proxmox VM config (qm)", "", "| parameter | value |", "|---|---|"]
    for key, value in plan.qm_config.items():
        if key == "description":
            continue
        out.append(f"| `{key}` | `{_cell(value)}` |")
    out += ["", "### Disks", ""]
    if plan.disks:
        out += ["| disk | slot | source | size GiB | storage | action |", "|---|---|---|---|---|---|"]
        for d in plan.disks:
            out.append(
                f"| {_cell(d.name)}{' (boot)' if d.boot else ''} | {d.slot} | {d.source_type} `{_cell(d.source)}` | "
                f"{d.size_gib if d.size_gib is not None else 'unknown'} | {d.storage} | {d.action} |"
            )
        for d in plan.disks:
            if d.commands:
                out += ["", f"Commands for `{_cell(d.name)}`:", "", "```sh", *d.commands, "```"]
    else:
        out.append("No disks.")
    out += ["", "### Concerns", ""]
    if plan.concerns:
        out += ["| category | id | assessment | path |", "|---|---|---|---|"]
        for c in plan.concerns:
            out.append(f"| {c.category} | {c.id} | {_cell(c.assessment)} | `{_cell(c.path)}` |")
    else:
        out.append("None.")
    out += ["", "### capmox", "", "```yaml", yaml.dump(plan.capmox, Dumper=_Dumper, sort_keys=False).rstrip()]
    out += ["```", "", "Template requirements:", ""]
    out += [f"- {_cell(r)}" for r in plan.template_requirements]
    out.append("")
    return out


def render_markdown(result: ConversionResult) -> str:
    lines = ["# KubeVirt to Proxmox migration report", "", f"Rules version: {result.rules_version}", ""]
    lines += [render_summary_table(result), ""]
    for plan in result.plans:
        lines += _plan_markdown(plan)
    for cluster in result.clusters:
        lines += [f"## Cluster {cluster.namespace or 'default'}/{cluster.name}", ""]
        lines += [f"- {o.get('kind')} `{_cell((o.get('metadata') or {}).get('name'))}`" for o in cluster.objects]
        lines.append("")
        for c in cluster.concerns:
            lines.append(f"- **{c.category}** {c.id}: {_cell(c.assessment)}")
        lines.append("")
    if result.ignored:
        lines += ["## Ignored documents", ""]
        lines += [f"- {_cell(i['kind'] or '(no kind)')} `{_cell(i['name'])}`" for i in result.ignored]
        lines.append("")
    return "\n".join(lines)
