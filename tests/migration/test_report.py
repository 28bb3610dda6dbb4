"""Reports are deterministic and carry the plan facts."""

from __future__ import annotations

import json

import yaml

from migration.core import convert, load_documents, render_json, render_markdown, render_yaml

from .conftest import BROKEN_SAMPLES, SAMPLES, require_shared, sample_files
from .vmfactory import baseline, mappings, render


def _all_samples_text() -> str:
    require_shared(SAMPLES)
    return "\n---\n".join(p.read_text() for p in sample_files() if p.name not in BROKEN_SAMPLES)


def test_same_input_gives_byte_identical_output():
    text = _all_samples_text()
    first, second = convert(load_documents(text)), convert(load_documents(text))
    assert render_json(first) == render_json(second)
    assert render_yaml(first) == render_yaml(second)
    assert render_markdown(first) == render_markdown(second)


def test_yaml_and_json_reports_agree_and_have_no_aliases():
    result = convert(render(baseline()), mappings())
    text = render_yaml(result)
    assert "&id" not in text and "*id" not in text
    assert yaml.safe_load(text) == json.loads(render_json(result))


def test_markdown_report_lists_config_disks_and_concerns():
    result = convert(render(baseline()), mappings())
    md = render_markdown(result)
    assert "| shop/web | VirtualMachine | 2 | 1x2x1 | 2048 | virtio0 20G | 1 | 0 | 0 | 1 |" in md
    assert "| `net0` | `virtio,bridge=vmbr1,tag=30` |" in md
    assert "virtctl vmexport download k2p-web-root --namespace shop --pvc web-root" in md
    assert "capmox-standalone" in md
