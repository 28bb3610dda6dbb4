"""A VM as the converter sees it: the VMI spec, instancetype/preference expanded, KubeVirt defaults applied.

Nothing here copies or mutates the input; effective values are computed on read from the spec, the
preference and KubeVirt's implicit defaults (SATA disks on amd64, virtio NICs, pod network auto-attached).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from .cloudinit import CloudInit, SshKeys, read_cloud_init, read_ssh_keys
from .devices import Disk, Nic, collect_disks, collect_nics
from .errors import InputError
from .mappings import Mappings
from .quantity import cpu_count, parse_quantity, to_mib
from .sources import Source, _at, sources_of

__all__ = ["DEFAULT_MEMORY_MIB", "Disk", "Nic", "Source", "VmContext", "sources_of"]

_LEGACY_TOPOLOGY = {
    "preferSockets": "sockets",
    "preferCores": "cores",
    "preferThreads": "threads",
    "preferSpread": "spread",
    "preferAny": "any",
}
DEFAULT_MEMORY_MIB = 1024  # only when neither the VM nor its instancetype states any memory


@dataclass
class VmContext:
    """All derived facts about one VM; conversion builders and concern rules read from here."""

    source: Source
    inventory: object
    mappings: Mappings
    instancetype_ref: dict | None = None
    instancetype: dict | None = None
    preference_ref: dict | None = None
    preference: dict | None = None
    facts: dict[str, list] = field(default_factory=dict)

    # filled by analyse()
    arch: str = "amd64"
    sockets: int = 1
    cores: int = 1
    threads: int = 1
    memory_mib: int = 0
    request_mib: int | None = None
    disks: list[Disk] = field(default_factory=list)
    nics: list[Nic] = field(default_factory=list)
    cloud_init: CloudInit | None = None
    ssh: SshKeys = field(default_factory=SshKeys)

    def note(self, key: str, item: object) -> None:
        self.facts.setdefault(key, []).append(item)

    # -- convenient views -------------------------------------------------
    @property
    def vmi(self) -> dict:
        return self.source.vmi

    @property
    def vmi_path(self) -> str:
        return self.source.vmi_path

    @property
    def domain(self) -> dict:
        return self.vmi.get("domain") or {}

    @property
    def devices(self) -> dict:
        return self.domain.get("devices") or {}

    @property
    def cpu(self) -> dict:
        return self.domain.get("cpu") or {}

    @property
    def memory(self) -> dict:
        return self.domain.get("memory") or {}

    @property
    def vcpus(self) -> int:
        return self.sockets * self.cores * self.threads

    def path(self, rel: str) -> str:
        return _at(self.vmi_path, rel)

    def pref(self, section: str, key: str) -> object:
        if not self.preference:
            return None
        return (self.preference.get(section) or {}).get(key)

    def it(self, section: str, key: str) -> object:
        if not self.instancetype:
            return None
        return (self.instancetype.get(section) or {}).get(key)

    @property
    def annotations(self) -> dict:
        merged: dict = {}
        for meta in (self.source.metadata, self.source.template_metadata):
            ann = meta.get("annotations")
            if isinstance(ann, dict):
                merged.update(ann)
        return merged

    @property
    def labels(self) -> dict:
        merged: dict = {}
        for meta in (self.source.metadata, self.source.template_metadata):
            lab = meta.get("labels")
            if isinstance(lab, dict):
                merged.update(lab)
        return merged

    @property
    def efi(self) -> dict | None:
        bootloader = (self.domain.get("firmware") or {}).get("bootloader") or {}
        if bootloader.get("efi") is not None:
            return bootloader["efi"]
        if bootloader.get("bios") is not None:
            return None
        preferred = self.pref("firmware", "preferredEfi")
        if preferred is not None:
            return preferred
        if self.pref("firmware", "preferredUseEfi"):
            return {"secureBoot": bool(self.pref("firmware", "preferredUseSecureBoot"))}
        return None

    @property
    def secure_boot(self) -> bool:
        efi = self.efi
        # KubeVirt treats an unset secureBoot as true on amd64
        return efi is not None and efi.get("secureBoot", self.arch == "amd64") is not False

    @property
    def tpm(self) -> dict | None:
        tpm = self.devices.get("tpm")
        if tpm is not None:
            return tpm if tpm.get("enabled", True) is not False else None
        return self.pref("devices", "preferredTPM")

    @property
    def machine_type(self) -> str:
        machine = (self.domain.get("machine") or {}).get("type")
        if not machine:
            machine = self.pref("machine", "preferredMachineType") or ""
        return machine

    @property
    def is_windows(self) -> bool:
        os_name = str(self.annotations.get("vm.kubevirt.io/os", ""))
        pref_os = str(((self.preference or {}).get("annotations") or {}).get("vm.kubevirt.io/os", ""))
        if os_name.startswith("win") or pref_os == "windows":
            return True
        if (self.domain.get("features") or {}).get("hyperv") is not None:
            return True
        return any(d.volume_type == "sysprep" for d in self.disks)

    @property
    def run_strategy(self) -> str | None:
        vm_spec = self.source.vm_spec
        if vm_spec is None:
            return None
        if vm_spec.get("runStrategy"):
            return vm_spec["runStrategy"]
        running = vm_spec.get("running")
        if running is not None:
            return "Always" if running else "Halted"
        return "Halted"

    @property
    def multiqueue(self) -> bool:
        value = self.devices.get("networkInterfaceMultiqueue")
        if value is None:
            value = self.pref("devices", "preferredNetworkInterfaceMultiQueue")
        return bool(value)

    @property
    def boot_disk(self) -> Disk | None:
        candidates = [d for d in self.disks if not d.is_cloud_init and d.device != "cdrom" and d.volume]
        ordered = [d for d in candidates if d.boot_order is not None]
        if ordered:
            return min(ordered, key=lambda d: d.boot_order)
        return candidates[0] if candidates else None

    # -- analysis ---------------------------------------------------------
    def analyse(self) -> VmContext:
        self._resolve_definitions()
        self.arch = self.vmi.get("architecture") or (self.preference or {}).get("preferredArchitecture") or "amd64"
        self._compute_cpu()
        self._compute_memory()
        collect_disks(self)
        collect_nics(self)
        ns = self.source.namespace
        for disk in self.disks:
            if disk.is_cloud_init and self.cloud_init is None and disk.volume is not None:
                self.cloud_init = read_cloud_init(disk.volume, disk.volume_type, disk.volume_path, self.inventory, ns)
        self.ssh = read_ssh_keys(self.vmi.get("accessCredentials"), self.path("accessCredentials"), self.inventory, ns)
        return self

    def _resolve_definitions(self) -> None:
        vm_spec = self.source.vm_spec or {}
        ns = self.source.namespace
        for key in ("instancetype", "preference"):
            ref = vm_spec.get(key)
            if isinstance(ref, dict) and not ref.get("name") and ref.get("inferFromVolume"):
                inferred = f"(inferred from volume {ref['inferFromVolume']})"
                self.note(f"unresolved_{key}", ("labels", inferred, _at(self.source.vm_path, key)))
        ref = vm_spec.get("instancetype")
        if isinstance(ref, dict) and ref.get("name"):
            self.instancetype_ref = ref
            kind = ref.get("kind") or "VirtualMachineClusterInstancetype"
            self.instancetype = self.inventory.instancetype(kind, ns, ref["name"])
            if self.instancetype is None:
                self.note("unresolved_instancetype", (kind, ref["name"], _at(self.source.vm_path, "instancetype")))
        ref = vm_spec.get("preference")
        if isinstance(ref, dict) and ref.get("name"):
            self.preference_ref = ref
            kind = ref.get("kind") or "VirtualMachineClusterPreference"
            self.preference = self.inventory.preference(kind, ns, ref["name"])
            if self.preference is None:
                self.note("unresolved_preference", (kind, ref["name"], _at(self.source.vm_path, "preference")))

    def _compute_cpu(self) -> None:
        guest = self.it("cpu", "guest")
        if isinstance(guest, int) and guest > 0:
            self.sockets, self.cores, self.threads = _split_topology(guest, self.preference)
            return
        cpu = self.cpu
        if any(cpu.get(k) is not None for k in ("sockets", "cores", "threads")):
            values = []
            for key in ("sockets", "cores", "threads"):
                value = cpu.get(key)
                value = 1 if value is None else value
                if value < 1:
                    raise InputError(f"must be at least 1, got {value}", self.path(f"domain.cpu.{key}"))
                values.append(value)
            self.sockets, self.cores, self.threads = values
            return
        resources = self.domain.get("resources") or {}
        for section in ("limits", "requests"):
            value = (resources.get(section) or {}).get("cpu")
            if value is not None:
                count = cpu_count(parse_quantity(value, self.path(f"domain.resources.{section}.cpu")))
                self.sockets, self.cores, self.threads = count, 1, 1
                return

    def _compute_memory(self) -> None:
        resources = self.domain.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        guest: Fraction | None = None
        request: Fraction | None = None
        it_guest = self.it("memory", "guest")
        if it_guest is not None:
            guest = parse_quantity(it_guest, _at(self.source.vm_path, "instancetype"))
            percent = self.it("memory", "overcommitPercent")
            if isinstance(percent, int) and 0 < percent < 100:
                request = guest * (100 - percent) / 100
        else:
            for value, rel in (
                (self.memory.get("guest"), "domain.memory.guest"),
                (requests.get("memory"), "domain.resources.requests.memory"),
                (limits.get("memory"), "domain.resources.limits.memory"),
            ):
                if value is not None:
                    guest = parse_quantity(value, self.path(rel))
                    if guest <= 0:
                        raise InputError("memory must be positive", self.path(rel))
                    break
            for value, rel in (
                (requests.get("memory"), "domain.resources.requests.memory"),
                (limits.get("memory"), "domain.resources.limits.memory"),
            ):
                if value is not None:
                    request = parse_quantity(value, self.path(rel))
                    break
        if guest is None:
            # KubeVirt's webhook would reject this VM; convert with a loud default instead of failing the batch
            self.memory_mib = DEFAULT_MEMORY_MIB
            self.note("memory_defaulted", self.path("domain.memory.guest"))
            return
        self.memory_mib = to_mib(guest)
        if request is not None and 0 < request < guest:
            self.request_mib = to_mib(request)


def _split_topology(guest: int, preference: dict | None) -> tuple[int, int, int]:
    cpu_pref = (preference or {}).get("cpu") or {}
    topology = cpu_pref.get("preferredCPUTopology") or "sockets"
    topology = _LEGACY_TOPOLOGY.get(topology, topology)
    if topology == "cores" or topology == "any":
        return 1, guest, 1
    if topology == "threads":
        return 1, 1, guest
    if topology == "spread":
        options = cpu_pref.get("spreadOptions") or {}
        ratio = options.get("ratio") or 2
        across = options.get("across") or "SocketsCores"
        if across == "SocketsCores" and guest % ratio == 0:
            return guest // ratio, ratio, 1
        if across == "CoresThreads" and guest % ratio == 0:
            return 1, guest // ratio, ratio
        if across == "SocketsCoresThreads" and guest % 2 == 0 and (guest // 2) % ratio == 0:
            return guest // 2 // ratio, ratio, 2
    return guest, 1, 1
