"""``lint_bundle``: the pure ``main(argv)`` entry point and the Django management command wrapper."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from architecture.lint import EXIT_CLEAN, EXIT_ERRORS, EXIT_UNREADABLE, EXIT_WARNINGS, lint_source, main, run

from .conftest import BASE, bundle_text, entry


@pytest.fixture
def write(tmp_path):
    def _write(name: str, *entries: dict[str, object]) -> str:
        path = tmp_path / name
        path.write_text(bundle_text(*entries))
        return str(path)

    return _write


def lint_main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_clean_bundle_exits_zero(write):
    code, out, _ = lint_main(write("clean.yaml", *BASE))
    assert code == EXIT_CLEAN == 0
    assert "No findings." in out and "0 error(s)" in out


def test_info_only_exits_zero(write):
    code, out, _ = lint_main(write("info.yaml", *BASE, entry("metallb", ["cilium", "cilium"])))
    assert code == 0
    assert "duplicate-dependency" in out


def test_warnings_exit_one(write):
    entries = [e for e in BASE if e["name"] != "cozystack-controller"]
    code, out, _ = lint_main(write("warn.yaml", *entries))
    assert code == EXIT_WARNINGS == 1
    assert "core-component-missing" in out


def test_errors_exit_two_and_table_shows_hint(write):
    code, out, _ = lint_main(write("err.yaml", *BASE, entry("kamaji", ["cert-manager"])))
    assert code == EXIT_ERRORS == 2
    assert "missing-requirement" in out and "fix: Add 'etcd-operator'" in out
    header = out.splitlines()[1].split()
    assert header == ["SEVERITY", "RULE", "ENTRY", "LINE", "MESSAGE"]


def test_unreadable_input_exits_three(tmp_path):
    code, out, err = lint_main(str(tmp_path / "absent.yaml"))
    assert code == EXIT_UNREADABLE == 3
    assert "cannot read" in err and out == ""
    not_bundle = tmp_path / "values.yaml"
    not_bundle.write_text("bundles:\n  system:\n    enabled: true\n")
    code, out, err = lint_main(str(not_bundle), "--format", "json")
    assert code == 3
    assert json.loads(out)["exit_code"] == 3 and "platform values" in json.loads(out)["error"]


def test_json_output(write):
    path = write("paas-proxmox.yaml", *BASE, entry("dup", ["cilium"]), entry("dup", ["cilium"]))
    code, out, _ = lint_main(path, "--format", "json")
    document = json.loads(out)
    assert code == 2 and document["exit_code"] == 2
    assert document["bundle"] == "paas-proxmox" and document["flavour"] == "proxmox"
    assert document["entries"] == len(BASE) + 2
    assert document["summary"]["error"] == sum(1 for f in document["findings"] if f["severity"] == "error")
    duplicate = next(f for f in document["findings"] if f["rule"] == "duplicate-entry")
    assert set(duplicate) == {"rule", "severity", "component", "message", "hint", "line"}
    assert duplicate["component"] == "dup" and isinstance(duplicate["line"], int)


def test_flavour_option_forces_proxmox_rules(write):
    path = write("plain.yaml", *BASE)
    assert lint_main(path)[0] == 0
    code, out, _ = lint_main(path, "--flavour", "proxmox")
    assert code == 2 and "proxmox-essential-missing" in out


def test_stdin_input():
    out, err = io.StringIO(), io.StringIO()
    code = run("-", stdout=out, stderr=err, stdin=io.StringIO(bundle_text(*BASE)), name="piped")
    assert code == 0 and out.getvalue().startswith("piped:")


def test_management_command_is_a_thin_wrapper(write):
    out, err = io.StringIO(), io.StringIO()
    call_command("lint_bundle", write("clean.yaml", *BASE), stdout=out, stderr=err)
    assert "No findings." in out.getvalue()
    with pytest.raises(SystemExit) as exited:
        call_command("lint_bundle", write("bad.yaml", *BASE, entry("x", ["y"])), "--format", "json", stdout=out)
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        call_command("lint_bundle", "/nonexistent/bundle.yaml", stdout=io.StringIO(), stderr=io.StringIO())
    assert exited.value.code == 3


def test_lint_source_for_the_upload_page():
    report = lint_source(bundle_text(*BASE, entry("kamaji", ["cert-manager"])), name="pasted")
    assert report.error is None and report.bundle.name == "pasted"
    assert report.worst == "error" and report.exit_code == 2
    assert report.summary["error"] == 1
    broken = lint_source("releases: [", name="pasted")
    assert broken.bundle is None and broken.exit_code == 3 and "YAML" in broken.error
