"""Property tests: generated VM specs never crash the converter, convert deterministically, keep vCPU/memory."""

from __future__ import annotations

import contextlib
import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migration.core import InputError, convert, render_json

_NAME = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
_UNITS = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "k": 10**3, "M": 10**6, "G": 10**9, "": 1}


@st.composite
def memory_quantities(draw) -> tuple[str | int, int]:
    unit = draw(st.sampled_from(sorted(_UNITS)))
    if unit == "":
        value = draw(st.integers(1 << 20, 1 << 36))
        return value, value
    value = draw(st.integers(1, 4096 if unit in ("Gi", "G") else 1 << 20))
    return f"{value}{unit}", value * _UNITS[unit]


@st.composite
def vm_specs(draw) -> tuple[dict, int, int]:
    """A valid VirtualMachine plus the vCPUs and bytes of memory KubeVirt would give it."""
    domain: dict = {"devices": {}}
    topology = draw(st.sampled_from(["explicit", "partial", "limits", "none"]))
    if topology == "explicit":
        s, c, t = draw(st.integers(1, 4)), draw(st.integers(1, 16)), draw(st.integers(1, 2))
        domain["cpu"] = {"sockets": s, "cores": c, "threads": t}
        vcpus = s * c * t
    elif topology == "partial":
        c = draw(st.integers(1, 32))
        domain["cpu"] = {"cores": c}
        vcpus = c
    elif topology == "limits":
        millis = draw(st.integers(1, 16000))
        domain["resources"] = {"limits": {"cpu": f"{millis}m"}}
        vcpus = max(1, math.ceil(millis / 1000))
    else:
        vcpus = 1
    quantity, memory_bytes = draw(memory_quantities())
    if draw(st.booleans()):
        domain["memory"] = {"guest": quantity}
    else:
        domain.setdefault("resources", {})["requests"] = {"memory": quantity}
    disks, volumes, interfaces, networks = [], [], [], []
    for i in range(draw(st.integers(0, 4))):
        name = f"d{i}"
        kind = draw(st.sampled_from(["containerDisk", "persistentVolumeClaim", "emptyDisk", "dataVolume", "cloud"]))
        bus = draw(st.sampled_from([None, "virtio", "sata", "scsi"]))
        disks.append({"name": name, "disk": {"bus": bus} if bus else {}})
        if kind == "containerDisk":
            volumes.append({"name": name, "containerDisk": {"image": draw(_NAME)}})
        elif kind == "persistentVolumeClaim":
            volumes.append({"name": name, "persistentVolumeClaim": {"claimName": draw(_NAME)}})
        elif kind == "emptyDisk":
            volumes.append({"name": name, "emptyDisk": {"capacity": f"{draw(st.integers(1, 100))}Gi"}})
        elif kind == "dataVolume":
            volumes.append({"name": name, "dataVolume": {"name": draw(_NAME)}})
        else:
            volumes.append({"name": name, "cloudInitNoCloud": {"userData": draw(st.text(max_size=200))}})
    for i in range(draw(st.integers(0, 3))):
        name = f"n{i}"
        model = draw(st.sampled_from(["virtio", "e1000", "e1000e", "rtl8139", "igb", "pcnet"]))
        binding = draw(st.sampled_from(["bridge", "masquerade"]))
        interfaces.append({"name": name, binding: {}, "model": model})
        if i == 0 and draw(st.booleans()):
            networks.append({"name": name, "pod": {}})
        else:
            networks.append({"name": name, "multus": {"networkName": draw(_NAME)}})
    domain["devices"] = {"disks": disks, "interfaces": interfaces}
    vm = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": draw(_NAME), "namespace": draw(_NAME)},
        "spec": {
            "runStrategy": draw(st.sampled_from(["Always", "Halted", "Manual", "RerunOnFailure"])),
            "template": {"spec": {"domain": domain, "volumes": volumes, "networks": networks}},
        },
    }
    return vm, vcpus, memory_bytes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vm_specs())
def test_vcpu_and_memory_are_preserved_and_output_is_deterministic(case):
    vm, vcpus, memory_bytes = case
    text = json.dumps(vm)
    first = convert(text)
    (plan,) = first.plans
    config = plan.qm_config
    assert config["sockets"] * config["cores"] == vcpus
    assert config["memory"] == math.ceil(memory_bytes / (1 << 20))
    pmt = plan.capmox[0]["spec"]["template"]["spec"]
    assert pmt["numSockets"] * pmt["numCores"] == vcpus
    assert pmt["memoryMiB"] % 8 == 0 and 0 <= pmt["memoryMiB"] - config["memory"] < 8
    assert pmt["disks"]["bootVolume"]["sizeGb"] >= 5
    nets = [config[k] for k in sorted(config) if k.startswith("net")]
    interfaces = vm["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"]
    assert len(nets) == max(1, len(interfaces))  # no interfaces: KubeVirt auto-attaches the pod network
    assert render_json(convert(text)) == render_json(first)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)
_KEYS = "domain devices disks cpu memory guest volumes networks interfaces name cores resources requests bus disk"
_KEYS += " model pod multus containerDisk firmware sockets bootOrder macAddress userData accessCredentials"


@st.composite
def mutated_vms(draw) -> str:
    """Valid-looking VMs with random values planted at random known keys."""
    vm, _, _ = draw(vm_specs())
    spec = vm["spec"]["template"]["spec"]
    targets = [spec, spec["domain"], spec["domain"]["devices"]]
    for _ in range(draw(st.integers(1, 4))):
        target = draw(st.sampled_from(targets))
        target[draw(st.sampled_from(_KEYS.split()))] = draw(_JSON)
    return json.dumps(vm)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_vms())
def test_garbage_raises_only_input_error(text):
    try:
        result = convert(text)
    except InputError as exc:
        assert exc.path or exc.message
        return
    render_json(result)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_input_error(text):
    with contextlib.suppress(InputError):
        convert(text)
