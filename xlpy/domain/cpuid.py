"""libxl_cpuid_policy_list: the CPUID leaves and MSR bits a guest's cpuid= asks for.

Each register is a 32-character string, most significant bit first: '0'/'1'
force a bit, 'x' leaves Xen's default, 'k' (and the deprecated 's') keeps
the host's value. MSR policies are 64 characters. libxl prints the policy as
{"cpuid": [...], "msr": [...]} once anything created it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xlpy.domain.idl import Struct

#: XEN_CPUID_INPUT_UNUSED: no subleaf.
UNUSED = 0xFFFFFFFF
REGISTERS = ("eax", "ebx", "ecx", "edx")


@dataclass
class CpuidLeaf:
    leaf: int
    subleaf: int = UNUSED
    #: eax..edx; None where the config says nothing about the register.
    registers: list[str | None] = field(default_factory=lambda: [None] * 4)

    @classmethod
    def from_json_obj(cls, obj: dict[str, Any]) -> CpuidLeaf:
        return cls(obj["leaf"], obj.get("subleaf", UNUSED), [obj.get(name) for name in REGISTERS])

    def to_json_obj(self) -> dict[str, Any]:
        out: dict[str, Any] = {"leaf": self.leaf}
        if self.subleaf != UNUSED:
            out["subleaf"] = self.subleaf
        out.update((name, value) for name, value in zip(REGISTERS, self.registers) if value is not None)
        return out


@dataclass
class MsrPolicy:
    index: int
    policy: list[str] = field(default_factory=lambda: ["x"] * 64)

    @classmethod
    def from_json_obj(cls, obj: dict[str, Any]) -> MsrPolicy:
        return cls(obj["index"], list(obj["policy"]))

    def to_json_obj(self) -> dict[str, Any]:
        return {"index": self.index, "policy": "".join(self.policy)}


@dataclass
class CpuidPolicy(Struct):
    leaves: list[CpuidLeaf] = field(default_factory=list)
    msrs: list[MsrPolicy] = field(default_factory=list)

    def leaf(self, leaf: int, subleaf: int) -> CpuidLeaf:
        """The entry for (leaf, subleaf), added at the end if there is none yet."""
        for entry in self.leaves:
            if (entry.leaf, entry.subleaf) == (leaf, subleaf):
                return entry
        self.leaves.append(CpuidLeaf(leaf, subleaf))
        return self.leaves[-1]

    def msr(self, index: int) -> MsrPolicy:
        for entry in self.msrs:
            if entry.index == index:
                return entry
        self.msrs.append(MsrPolicy(index))
        return self.msrs[-1]

    def to_json_obj(self) -> dict[str, Any]:
        return {"cpuid": [entry.to_json_obj() for entry in self.leaves],
                "msr": [entry.to_json_obj() for entry in self.msrs]}

    @classmethod
    def from_json_obj(cls, obj: dict[str, Any]) -> CpuidPolicy:
        """The inverse of to_json_obj, for a stored config or a save file's."""
        unknown = set(obj) - {"cpuid", "msr"}
        if unknown:
            raise ValueError(f"CpuidPolicy has no field {sorted(unknown)[0]!r}")
        return cls([CpuidLeaf.from_json_obj(entry) for entry in obj.get("cpuid", [])],
                   [MsrPolicy.from_json_obj(entry) for entry in obj.get("msr", [])])
