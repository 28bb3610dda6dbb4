"""Review helpers: the source spec and the Proxmox result as YAML lines, with the interesting lines marked."""

from __future__ import annotations

import difflib
import re

import yaml

from migration.core import render_json, render_markdown, render_yaml

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
CATEGORY_ORDER = {"Critical": 0, "Warning": 1, "Information": 2}


def dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)


def _path_parts(path: str) -> list[str | int]:
    return [m.group(1) if m.group(1) is not None else int(m.group(2)) for m in _SEGMENT.finditer(path or "")]


def _locate(root, parts) -> tuple[int, int] | None:
    node, start = root, None
    for part in parts:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if match is None:
                break
            start = match[0].start_mark.line
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            start = node.start_mark.line
        else:
            break
    if start is None:
        return None
    return start, max(start, _last_line(node))


def _last_line(node) -> int:
    """Block collections end where the next token starts; their last scalar ends on their real last line."""
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        return _last_line(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return _last_line(node.value[-1])
    return node.end_mark.line


def marked_source(doc: dict, concerns) -> list[dict]:
    """Lines of the source YAML; lines under a concern's path carry that concern's category."""
    text = dump(doc)
    lines = [{"text": line, "mark": "", "title": ""} for line in text.splitlines()]
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return lines
    for concern in sorted(concerns, key=lambda c: -CATEGORY_ORDER.get(c.category, 3)):
        span = _locate(root, _path_parts(concern.path)) if concern.path else None
        if span is None:
            continue
        for index in range(span[0], min(span[1], len(lines) - 1) + 1):
            lines[index]["mark"] = concern.category.lower()
            lines[index]["title"] = concern.label
    return lines


def proxmox_view(vm_plan) -> dict:
    return {"qm": dict(vm_plan.qm_config), "cloudInit": vm_plan.cloud_init, "capmox": vm_plan.capmox}


def marked_result(vm_plan, unmapped_plan) -> list[dict]:
    """Lines of the Proxmox result; lines the plan's maps changed (against a conversion without maps) are marked."""
    text = dump(proxmox_view(vm_plan)).splitlines()
    baseline = dump(proxmox_view(unmapped_plan)).splitlines() if unmapped_plan is not None else text
    changed = set()
    matcher = difflib.SequenceMatcher(a=baseline, b=text, autojunk=False)
    for tag, _a0, _a1, b0, b1 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            changed.update(range(b0, b1))
    return [{"text": line, "mark": "changed" if i in changed else "", "title": ""} for i, line in enumerate(text)]


def sorted_concerns(concerns) -> list:
    return sorted(concerns, key=lambda c: (CATEGORY_ORDER.get(c.category, 3), c.id, c.path))


def archive_files(plan, result) -> dict[str, str]:
    """The whole plan as files: per VM YAML and JSON, cluster plans, and the reports."""
    files = {}
    selected = {i.key for i in plan.items.all() if i.selected}
    from .engine import item_key

    for vm_plan in result.plans:
        if item_key(vm_plan) not in selected:
            continue
        files[f"plans/{vm_plan.file_stem}.yaml"] = render_yaml(vm_plan)
        files[f"plans/{vm_plan.file_stem}.json"] = render_json(vm_plan)
    for cluster in result.clusters:
        files[f"plans/{cluster.file_stem}.yaml"] = render_yaml(cluster)
    files["report.md"] = render_markdown(result)
    files["report.json"] = render_json(result)
    files["wizard.yaml"] = dump(
        {
            "plan": plan.name,
            "tenant": plan.tenant.slug,
            "rulesVersion": result.rules_version,
            "source": plan.source_description,
            "mappings": plan.mappings,
            "target": {k: v for k, v in (plan.target or {}).items() if k != "ssh_keys"},
            "vms": [
                {
                    "source": i.key,
                    "selected": i.selected,
                    "acceptCritical": i.accept_critical,
                    "mode": i.mode,
                    "targetName": i.target_name,
                }
                for i in plan.items.all()
            ],  # fmt: skip
        }
    )
    return files
