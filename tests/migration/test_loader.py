"""Safe, bounded loading: bombs, oversize input, hostile YAML, List/Template unwrapping."""

from __future__ import annotations

import json
import time

import pytest

from migration.core import InputError, Limits, convert, load_documents

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

VM = """\
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: vm1, namespace: ns1}
spec:
  runStrategy: Always
  template:
    spec:
      domain:
        devices: {}
        memory: {guest: 1Gi}
"""


def test_alias_bomb_is_refused_quickly():
    start = time.monotonic()
    with pytest.raises(InputError, match="alias bomb"):
        load_documents(BOMB)
    assert time.monotonic() - start < 2


def test_alias_bomb_inside_a_vm_is_refused_by_convert():
    text = VM.replace("metadata: {name: vm1, namespace: ns1}", "metadata:\n  name: vm1\n  labels: {}\n") + BOMB
    with pytest.raises(InputError, match="alias"):
        convert(text)


def test_small_aliases_are_fine():
    docs = load_documents("a: &x {k: v}\nb: *x\n")
    assert docs[0].body == {"a": {"k": "v"}, "b": {"k": "v"}}


def test_recursive_alias_is_refused():
    with pytest.raises(InputError, match="recursive YAML alias"):
        load_documents("a: &x [1, *x]\n")


def test_oversize_input_is_refused_before_parsing():
    start = time.monotonic()
    with pytest.raises(InputError, match="over the limit"):
        load_documents("x: y\n" * 1000, Limits(max_bytes=1000))
    with pytest.raises(InputError, match="over the limit"):
        load_documents(b"x" * 2001, Limits(max_bytes=2000))
    assert time.monotonic() - start < 1


def test_document_count_limit():
    with pytest.raises(InputError, match="more than 3 documents"):
        load_documents("---\na: 1\n" * 4, Limits(max_documents=3))


def test_list_items_count_towards_the_limit():
    items = {"apiVersion": "v1", "kind": "List", "items": [{"kind": "ConfigMap"}] * 5}
    with pytest.raises(InputError, match="more than 3 documents"):
        load_documents(json.dumps(items), Limits(max_documents=3))


def test_deep_nesting_is_an_input_error():
    with pytest.raises(InputError):
        load_documents("a: " + "[" * 20000 + "]" * 20000)
    with pytest.raises(InputError):
        load_documents("[" * 100000 + "]" * 100000)


def test_syntax_error_names_the_line():
    with pytest.raises(InputError, match="line 3 column"):
        load_documents("a: 1\nb: [1, 2\nc: 3\n")


def test_non_object_document_is_refused():
    with pytest.raises(InputError, match="expected an object"):
        load_documents("- 1\n- 2\n")


def test_python_tags_are_refused():
    with pytest.raises(InputError):
        load_documents("a: !!python/object/apply:os.system ['true']\n")


def test_huge_integer_is_an_input_error():
    with pytest.raises(InputError):
        load_documents("a: " + "9" * 5000 + "\n")


def test_timestamps_and_binary_stay_json_friendly():
    docs = load_documents("a: 2024-12-13T12:37:22Z\nb: !!binary aGk=\nc: !!set {x, y}\n")
    body = docs[0].body
    assert body["a"] == "2024-12-13T12:37:22Z"
    assert body["b"] == "aGk="
    assert body["c"] == {"x": None, "y": None}
    json.dumps(body)


def test_invalid_utf8_is_refused():
    with pytest.raises(InputError, match="not UTF-8"):
        load_documents(b"a: \xff\xfe\n")


def test_json_input_and_json_arrays():
    single = load_documents(json.dumps({"kind": "ConfigMap", "metadata": {"name": "x"}}))
    assert single[0].name == "x"
    many = load_documents(json.dumps([{"kind": "A"}, {"kind": "B"}]))
    assert [d.kind for d in many] == ["A", "B"]


def test_list_export_is_unwrapped_and_server_fields_dropped():
    text = """\
apiVersion: v1
kind: List
items:
- apiVersion: kubevirt.io/v1
  kind: VirtualMachine
  metadata:
    name: vm1
    uid: 1234
    resourceVersion: "5"
    managedFields: [{manager: x}]
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: '{"secret": 1}'
      keep: me
  status: {ready: true}
  spec: {}
"""
    (doc,) = load_documents(text, source="export.yaml")
    assert doc.path == "items[0]"
    assert "status" not in doc.body
    assert doc.metadata == {"name": "vm1", "annotations": {"keep": "me"}}
    assert doc.source == "export.yaml"


def test_template_parameters_with_values_are_substituted():
    text = """\
apiVersion: template.openshift.io/v1
kind: Template
objects:
- kind: ConfigMap
  metadata: {name: "${NAME}", namespace: "${NS}"}
parameters:
- {name: NS, value: os-images}
- {name: NAME, generate: expression}
"""
    (doc,) = load_documents(text)
    assert doc.namespace == "os-images"
    assert doc.name == "${NAME}"
    assert doc.path == "objects[0]"


def test_empty_documents_are_skipped():
    docs = load_documents("---\n---\nkind: A\n---\n")
    assert [d.kind for d in docs] == ["A"]


def test_error_paths_inside_lists_are_prefixed():
    text = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {"kind": "ConfigMap"},
                {
                    "apiVersion": "kubevirt.io/v1",
                    "kind": "VirtualMachine",
                    "spec": {"template": {"spec": {"domain": {"devices": {}, "cpu": {"cores": "four"}}}}},
                },
            ],
        }
    )
    with pytest.raises(InputError) as info:
        convert(text)
    assert info.value.path == "items[1].spec.template.spec.domain.cpu.cores"
    assert info.value.message == 'expected integer, got "four"'


def test_ten_thousand_documents_convert():
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: s-N, namespace: ns1}\nstringData: {k: v}\n"
    vm = VM.replace("name: vm1", "name: vm-N")
    text = "---\n".join((vm if i % 2 else secret).replace("-N", f"-{i}") for i in range(10_000))
    start = time.monotonic()
    result = convert(text)
    assert len(result.plans) == 5_000
    assert len({p.name for p in result.plans}) == 5_000
    assert time.monotonic() - start < 120
