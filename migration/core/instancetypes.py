"""Built-in table of the common KubeVirt cluster instancetypes and preferences (common-instancetypes).

Written as Python data from the published definitions: every entry is the ``spec`` of a
``VirtualMachineClusterInstancetype`` / ``VirtualMachineClusterPreference`` in the v1beta1 shape, so user
definitions found in the input (or a definitions file) can be merged in the same form.
"""

from __future__ import annotations

_CRIO_NO_BALANCING = {
    "cpu-load-balancing.crio.io": "disable",
    "cpu-quota.crio.io": "disable",
    "irq-load-balancing.crio.io": "disable",
}

# size -> (vCPUs, guest memory) per series
_U1_SIZES = {
    "nano": (1, "512Mi"),
    "micro": (1, "1Gi"),
    "small": (1, "2Gi"),
    "medium": (1, "4Gi"),
    "2xmedium": (2, "4Gi"),
    "large": (2, "8Gi"),
    "xlarge": (4, "16Gi"),
    "2xlarge": (8, "32Gi"),
    "4xlarge": (16, "64Gi"),
    "8xlarge": (32, "128Gi"),
}
_O1_SIZES = {k: v for k, v in _U1_SIZES.items() if k != "2xmedium"}
_RT1_SIZES = {k: v for k, v in _O1_SIZES.items() if k != "nano"}
_CX1_SIZES = {
    "medium": (1, "2Gi"),
    "large": (2, "4Gi"),
    "xlarge": (4, "8Gi"),
    "2xlarge": (8, "16Gi"),
    "4xlarge": (16, "32Gi"),
    "8xlarge": (32, "64Gi"),
}
_M1_SIZES = {
    "large": (2, "16Gi"),
    "xlarge": (4, "32Gi"),
    "2xlarge": (8, "64Gi"),
    "4xlarge": (16, "128Gi"),
    "8xlarge": (32, "256Gi"),
}
_N1_SIZES = {
    "medium": (4, "4Gi"),
    "large": (4, "8Gi"),
    "xlarge": (8, "16Gi"),
    "2xlarge": (16, "32Gi"),
    "4xlarge": (32, "64Gi"),
    "8xlarge": (64, "128Gi"),
}


def _instancetypes() -> dict[str, dict]:
    table: dict[str, dict] = {}
    for size, (cpus, mem) in _U1_SIZES.items():
        table[f"u1.{size}"] = {"cpu": {"guest": cpus}, "memory": {"guest": mem}}
        table[f"d1.{size}"] = {
            "cpu": {"dedicatedCPUPlacement": True, "guest": cpus, "isolateEmulatorThread": True},
            "ioThreadsPolicy": "auto",
            "memory": {"guest": mem},
        }
    for size, (cpus, mem) in _O1_SIZES.items():
        table[f"o1.{size}"] = {"cpu": {"guest": cpus}, "memory": {"guest": mem, "overcommitPercent": 50}}
    for size, (cpus, mem) in _RT1_SIZES.items():
        table[f"rt1.{size}"] = {
            "annotations": dict(_CRIO_NO_BALANCING),
            "cpu": {
                "dedicatedCPUPlacement": True,
                "guest": cpus,
                "isolateEmulatorThread": True,
                "numa": {"guestMappingPassthrough": {}},
                "realtime": {},
            },
            "memory": {"guest": mem, "hugepages": {"pageSize": "1Gi"}},
        }
    for size, (cpus, mem) in _CX1_SIZES.items():
        for suffix, page in (("", "2Mi"), ("1gi", "1Gi")):
            table[f"cx1.{size}{suffix}"] = {
                "cpu": {
                    "dedicatedCPUPlacement": True,
                    "guest": cpus,
                    "isolateEmulatorThread": True,
                    "maxSockets": cpus,
                    "numa": {"guestMappingPassthrough": {}},
                },
                "ioThreadsPolicy": "auto",
                "memory": {"guest": mem, "hugepages": {"pageSize": page}},
            }
    for size, (cpus, mem) in _M1_SIZES.items():
        for suffix, page in (("", "2Mi"), ("1gi", "1Gi")):
            table[f"m1.{size}{suffix}"] = {
                "cpu": {"guest": cpus},
                "memory": {"guest": mem, "hugepages": {"pageSize": page}},
            }
    for size, (cpus, mem) in _N1_SIZES.items():
        table[f"n1.{size}"] = {
            "annotations": dict(_CRIO_NO_BALANCING),
            "cpu": {"dedicatedCPUPlacement": True, "guest": cpus, "isolateEmulatorThread": True},
            "memory": {"guest": mem, "hugepages": {"pageSize": "1Gi"}},
        }
    return table


def _linux(
    cpus: int | None = None,
    memory: str | None = None,
    *,
    efi: dict | None = None,
    smm: bool = False,
    arch: str | None = None,
    io_thread: bool = False,
    desktop: bool = False,
    dpdk: bool = False,
    secex: bool = False,
) -> dict:
    devices: dict = {"preferredDiskBus": "virtio", "preferredInterfaceModel": "virtio", "preferredRng": {}}
    if io_thread:
        devices["preferredDiskDedicatedIoThread"] = True
    if desktop:
        devices.update(preferredAutoattachInputDevice=True, preferredInputBus="virtio", preferredInputType="tablet")
    if dpdk:
        devices["preferredNetworkInterfaceMultiQueue"] = True
    spec: dict = {"annotations": {"vm.kubevirt.io/os": "linux"}}
    if dpdk:
        spec["cpu"] = {
            "preferredCPUTopology": "spread",
            "spreadOptions": {"across": "SocketsCoresThreads", "ratio": 4},
        }
    spec["devices"] = devices
    if smm:
        spec["features"] = {"preferredSmm": {}}
    if efi is not None:
        spec["firmware"] = {"preferredEfi": efi}
    if arch:
        spec["preferredArchitecture"] = arch
    if secex:
        spec["preferredLaunchSecurity"] = {}
    if cpus is not None:
        requirements: dict = {"cpu": {"guest": cpus}, "memory": {"guest": memory}}
        if arch:
            requirements = {"architecture": arch, **requirements}
        spec["requirements"] = requirements
    return spec


_HYPERV = {
    "frequencies": {},
    "ipi": {},
    "reenlightenment": {},
    "relaxed": {},
    "reset": {},
    "runtime": {},
    "spinlocks": {"spinlocks": 8191},
    "synic": {},
    "synictimer": {"direct": {}},
    "tlbflush": {},
    "vapic": {},
    "vpindex": {},
}


def _windows(
    cpus: int,
    memory: str,
    *,
    topology: str = "sockets",
    nic: str = "e1000e",
    virtio: bool = False,
    efi: dict | None = None,
    tpm: bool = False,
    legacy_pci_hole: bool = False,
) -> dict:
    annotations = {"vm.kubevirt.io/os": "windows"}
    if legacy_pci_hole:
        annotations = {"kubevirt.io/disablePCIHole64": "true", **annotations}
    devices: dict = {"preferredAutoattachInputDevice": True}
    if virtio:
        devices.update(
            preferredDiskBus="virtio",
            preferredInputBus="virtio",
            preferredInputType="tablet",
            preferredInterfaceModel="virtio",
        )
    else:
        devices.update(preferredDiskBus="sata", preferredInterfaceModel=nic)
    if tpm:
        devices["preferredTPM"] = {"persistent": True}
    if virtio:
        devices["preferredVideoType"] = "virtio"
    features: dict = {"preferredAcpi": {}, "preferredApic": {}, "preferredHyperv": dict(_HYPERV)}
    if efi is not None:
        features["preferredSmm"] = {}
    spec: dict = {
        "annotations": annotations,
        "clock": {
            "preferredClockOffset": {"utc": {}},
            "preferredTimer": {
                "hpet": {"present": False},
                "hyperv": {},
                "pit": {"tickPolicy": "delay"},
                "rtc": {"tickPolicy": "catchup"},
            },
        },
        "cpu": {"preferredCPUTopology": topology},
        "devices": devices,
        "features": features,
    }
    if efi is not None:
        spec["firmware"] = {"preferredEfi": efi}
    spec["preferredTerminationGracePeriodSeconds"] = 3600
    spec["requirements"] = {"cpu": {"guest": cpus}, "memory": {"guest": memory}}
    return spec


def _preferences() -> dict[str, dict]:
    sb_on = {"secureBoot": True}
    sb_off = {"secureBoot": False}
    persistent_sb = {"persistent": True, "secureBoot": True}
    table: dict[str, dict] = {
        "alpine": _linux(1, "512Mi"),
        "cirros": _linux(1, "256Mi"),
        "debian": _linux(1, "512Mi", efi=sb_off),
        "fedora": _linux(1, "2Gi", efi=sb_on, smm=True, arch="amd64"),
        "fedora.arm64": _linux(1, "2Gi", arch="arm64"),
        "fedora.s390x": _linux(1, "2Gi", arch="s390x"),
        "fedora.s390x.secex": _linux(1, "2Gi", arch="s390x", secex=True),
        "legacy": {
            "annotations": {"vm.kubevirt.io/os": "legacy"},
            "devices": {"preferredDiskBus": "sata", "preferredInterfaceModel": "e1000"},
        },
        "linux": _linux(),
        "linux.efi": _linux(efi=sb_off),
        "opensuse.leap": _linux(1, "2Gi"),
        "opensuse.tumbleweed": _linux(1, "2Gi"),
        "oraclelinux": _linux(2, "4Gi", efi=sb_off),
        "rhel.7": _linux(1, "1Gi"),
        "rhel.7.desktop": _linux(1, "1Gi", desktop=True),
        "rhel.8": _linux(1, "1.5Gi"),
        "rhel.8.desktop": _linux(1, "1.5Gi", desktop=True),
        "rhel.8.dpdk": _linux(8, "1.5Gi", dpdk=True),
        "sles": _linux(1, "2Gi"),
        "ubuntu": _linux(1, "2Gi"),
    }
    transitional = _linux()
    transitional["devices"]["preferredUseVirtioTransitional"] = True
    table["linux.virtiotransitional"] = transitional
    for name in ("centos.stream9", "centos.stream10"):
        table[name] = _linux(1, "1.5Gi", io_thread=True)
        table[f"{name}.desktop"] = _linux(1, "1.5Gi", io_thread=True, desktop=True)
    table["centos.stream9.dpdk"] = _linux(8, "1.5Gi", io_thread=True, dpdk=True)
    for version in ("9", "10"):
        table[f"rhel.{version}"] = _linux(1, "1.5Gi", efi=sb_on, smm=True, arch="amd64", io_thread=True)
        table[f"rhel.{version}.arm64"] = _linux(1, "1.5Gi", arch="arm64", io_thread=True)
        table[f"rhel.{version}.s390x"] = _linux(1, "1.5Gi", arch="s390x", io_thread=True)
        table[f"rhel.{version}.s390x.secex"] = _linux(1, "1.5Gi", arch="s390x", io_thread=True, secex=True)
    table["rhel.9.desktop"] = _linux(1, "1.5Gi", efi=sb_on, smm=True, arch="amd64", io_thread=True, desktop=True)
    table["rhel.9.dpdk"] = _linux(8, "1.5Gi", efi=sb_on, smm=True, arch="amd64", io_thread=True, dpdk=True)
    realtime = _linux(4, "4Gi", efi=sb_on, smm=True, arch="amd64", io_thread=True)
    realtime["cpu"] = {"preferredCPUTopology": "spread", "spreadOptions": {"across": "SocketsCoresThreads"}}
    realtime["devices"].update(
        preferredAutoattachGraphicsDevice=False,
        preferredAutoattachMemBalloon=False,
        preferredAutoattachSerialConsole=True,
        preferredNetworkInterfaceMultiQueue=True,
    )
    table["rhel.9.realtime"] = realtime

    # Windows: (name, vCPUs, memory, topology, efi, tpm); every one also has a ".virtio" variant unless noted
    windows = [
        ("windows.10", 1, "2Gi", "cores", sb_on, False),
        ("windows.11", 2, "4Gi", "cores", persistent_sb, True),
        ("windows.2k12", 1, "512Mi", "sockets", None, False),
        ("windows.2k16", 1, "2Gi", "sockets", sb_on, False),
        ("windows.2k19", 1, "2Gi", "sockets", sb_on, False),
        ("windows.2k22", 1, "2Gi", "sockets", persistent_sb, True),
        ("windows.2k25", 1, "2Gi", "sockets", persistent_sb, True),
        ("windows.2k8", 1, "512Mi", "sockets", None, False),
        ("windows.7", 1, "2Gi", "sockets", None, False),
    ]
    no_smm_virtio = {"windows.2k16", "windows.2k19"}  # their .virtio variants carry EFI but no TPM
    for name, cpus, mem, topology, efi, tpm in windows:
        nic = "e1000" if name == "windows.2k8" else "e1000e"
        table[name] = _windows(cpus, mem, topology=topology, nic=nic, efi=efi, tpm=tpm)
        table[f"{name}.virtio"] = _windows(
            cpus, mem, topology=topology, virtio=True, efi=efi, tpm=tpm and name not in no_smm_virtio
        )
    table["windows.2k3"] = _windows(1, "256Mi", nic="rtl8139", legacy_pci_hole=True)
    table["windows.xp"] = _windows(1, "128Mi", legacy_pci_hole=True)
    return dict(sorted(table.items()))


INSTANCETYPES: dict[str, dict] = dict(sorted(_instancetypes().items()))
PREFERENCES: dict[str, dict] = _preferences()
