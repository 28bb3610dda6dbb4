"""The kubevirt2proxmox CLI end to end: files, formats, stdin, exit codes 0/1/2."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import yaml

from migration.cli import main

from .conftest import SAMPLES, require_shared
from .vmfactory import MAPPINGS, baseline, render

REPO = Path(__file__).resolve().parents[2]


def _write_maps(tmp_path: Path) -> list[str]:
    args = []
    for kind, option in (("network", "--network-map"), ("storage", "--storage-map"), ("templates", "--template-map")):
        path = tmp_path / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(MAPPINGS[kind]))
        args += [option, str(path)]
    return args


def test_convert_sample_writes_plan_files(tmp_path, capsys):
    sample = require_shared(SAMPLES / "harvester-notes_vm-list-masquerade-exported.yaml")
    out = tmp_path / "out"
    assert main(["convert", str(sample), "-o", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["report.json", "report.md", "test-migration_vm1.yaml"]
    plan = yaml.safe_load((out / "test-migration_vm1.yaml").read_text())
    config = plan["proxmox"]["config"]
    assert (config["sockets"], config["cores"], config["memory"]) == (1, 2, 3996)
    assert config["net0"].startswith("virtio=52:54:00:B6:DF:DA,")
    assert plan["capmox"][0]["kind"] == "ProxmoxMachineTemplate"
    assert {c["id"] for c in plan["concerns"]} >= {"pod-network", "pinned-mac"}
    assert plan["disks"][0]["commands"][0] == "virtctl stop vm1 --namespace test-migration"
    stdout = capsys.readouterr().out
    assert "| test-migration/vm1 | VirtualMachine | 2 | 1x2x1 | 3996 |" in stdout
    report = json.loads((out / "report.json").read_text())
    assert report["plans"][0]["name"] == "vm1"
    assert "# KubeVirt to Proxmox migration report" in (out / "report.md").read_text()


def test_json_format_and_maps(tmp_path):
    source = tmp_path / "vm.yaml"
    source.write_text(render(baseline()))
    out = tmp_path / "out"
    assert main(["convert", str(source), "-o", str(out), "--format", "json", *_write_maps(tmp_path)]) == 0
    plan = json.loads((out / "shop_web.json").read_text())
    assert plan["proxmox"]["config"]["net0"] == "virtio,bridge=vmbr1,tag=30"
    assert [c["id"] for c in plan["concerns"]] == ["capmox-standalone"]


def test_exit_codes(tmp_path):
    clean = tmp_path / "clean.yaml"
    clean.write_text(render(baseline()))
    maps = _write_maps(tmp_path)
    assert main(["convert", str(clean), "--strict", "-o", str(tmp_path / "a"), *maps]) == 0
    gpu = baseline()
    gpu["spec"]["template"]["spec"]["domain"]["devices"]["gpus"] = [{"name": "g", "deviceName": "nvidia.com/A10"}]
    critical = tmp_path / "gpu.yaml"
    critical.write_text(render(gpu))
    assert main(["convert", str(critical), "-o", str(tmp_path / "b"), *maps]) == 0
    assert main(["convert", str(critical), "--strict", "-o", str(tmp_path / "c"), *maps]) == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text(render(baseline()).replace('"cores": 2', '"cores": "four"'))
    assert main(["convert", str(broken), "-o", str(tmp_path / "d")]) == 2
    assert not (tmp_path / "d").exists()
    assert main(["convert", str(tmp_path / "missing.yaml")]) == 2
    assert main(["convert"]) == 2  # usage error


def test_broken_sample_reports_path(capsys):
    sample = require_shared(SAMPLES / "kubevirt-userguide_persistent-state_vm-efi-persistent.yaml")
    assert main(["convert", str(sample)]) == 2
    assert "spec.template.spec.domain.devices: required field is missing" in capsys.readouterr().err


def test_stdin_and_stdout(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(render(baseline()).encode())))
    assert main(["convert", "-", "--format", "json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["plans"][0]["source"]["file"] == "<stdin>"
    assert "| shop/web |" in captured.err


def test_duplicate_names_get_distinct_files(tmp_path):
    source = tmp_path / "twice.yaml"
    source.write_text(render(baseline(), baseline()))
    out = tmp_path / "out"
    assert main(["convert", str(source), "-o", str(out)]) == 0
    assert {"shop_web.yaml", "shop_web-2.yaml"} <= {p.name for p in out.iterdir()}


def test_console_script_module_runs_in_a_subprocess(tmp_path):
    source = tmp_path / "vm.yaml"
    source.write_text(render(baseline()))
    proc = subprocess.run(
        [sys.executable, "-m", "migration.cli", "convert", str(source), "-o", str(tmp_path / "out"), "--strict"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr  # unmapped network/storage/template: multus-unmapped is Critical
    assert (tmp_path / "out" / "shop_web.yaml").exists()


def test_help_documents_map_formats(capsys):
    assert main(["convert", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--network-map" in text and "storageClasses" in text and "matchTags" in text


def test_manage_py_command(tmp_path):
    from django.core.management import call_command

    source = tmp_path / "vm.yaml"
    source.write_text(render(baseline()))
    call_command("kubevirt2proxmox", "convert", str(source), "-o", str(tmp_path / "out"))
    assert (tmp_path / "out" / "shop_web.yaml").exists()


def test_user_data_snippet_is_written_byte_for_byte(tmp_path):
    sample = require_shared(SAMPLES / "cozystack_vm-instance_ubuntu-instancetype-gpu-multus.yaml")
    out = tmp_path / "out"
    assert main(["convert", str(sample), "-o", str(out)]) == 0
    snippet = out / "snippets" / "default_vm-test-vm-instance-user-data.yaml"
    assert snippet.read_bytes() == b"#cloud-config\npassword: ubuntu\nchpasswd: { expire: False }\n"
    plan = yaml.safe_load((out / "default_vm-test-vm-instance.yaml").read_text())
    assert plan["proxmox"]["config"]["cicustom"] == "user=local:snippets/default_vm-test-vm-instance-user-data.yaml"


def test_definitions_file_extends_the_instancetype_table(tmp_path):
    vm = baseline()
    domain = vm["spec"]["template"]["spec"]["domain"]
    domain.pop("cpu")
    domain.pop("memory")
    vm["spec"]["instancetype"] = {"name": "shop.big"}
    source = tmp_path / "vm.yaml"
    source.write_text(render(vm))
    definitions = tmp_path / "types.yaml"
    definitions.write_text(
        "apiVersion: instancetype.kubevirt.io/v1beta1\nkind: VirtualMachineClusterInstancetype\n"
        "metadata: {name: shop.big}\nspec: {cpu: {guest: 6}, memory: {guest: 12Gi}}\n"
    )
    out = tmp_path / "out"
    assert main(["convert", str(source), "-o", str(out), "--definitions", str(definitions), "--format", "json"]) == 0
    config = json.loads((out / "shop_web.json").read_text())["proxmox"]["config"]
    assert (config["sockets"], config["cores"], config["memory"]) == (6, 1, 12288)


def test_output_is_identical_across_processes_and_hash_seeds(tmp_path):
    require_shared(SAMPLES)
    inputs = [str(p) for p in sorted(SAMPLES.glob("*.yaml")) if "efi-persistent" not in p.name]
    outputs = []
    for seed in ("1", "4242"):
        out = tmp_path / f"out{seed}"
        env = {"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}
        proc = subprocess.run(
            [sys.executable, "-m", "migration.cli", "convert", *inputs, "-o", str(out)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append({p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()})
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) > 50
