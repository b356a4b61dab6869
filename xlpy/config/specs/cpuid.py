"""cpuid=: CPUID and MSR bits for the guest, in the two forms xl 4.17 reads.

* A string, "host,FLAG=VALUE,...": FLAG is one of libxl's named fields
  (family, model, maxleaf, ...) or any CPU feature Xen names; VALUE is a
  number, or x/k/s for every bit of the field (libxl_cpuid_parse_config).
* A list of xend-style lines, "LEAF[,SUBLEAF]:eax=<32 chars>,ebx=...", each
  register spelled out bit by bit (libxl_cpuid_parse_config_xend).

xl reports an item it cannot read and goes on without it; the readers here
return the number and text of libxl's error for the caller to report. Like
libxl, a flag with a bad value still adds its (empty) leaf to the policy.
"""

from __future__ import annotations

from xlpy.config.specs.cpuid_features import FEATURES
from xlpy.config.values import strtoul
from xlpy.domain.cpuid import UNUSED, CpuidPolicy

NA = UNUSED
EAX, EBX, ECX, EDX = range(4)

#: libxl's own field names: name -> (leaf, subleaf, register, first bit, width).
NAMED_FIELDS = {
    "maxleaf": (0x0, NA, EAX, 0, 32),
    "stepping": (0x1, NA, EAX, 0, 4),
    "model": (0x1, NA, EAX, 4, 8),
    "family": (0x1, NA, EAX, 8, 8),
    "brandid": (0x1, NA, EBX, 0, 8),
    "clflush": (0x1, NA, EBX, 8, 8),
    "proccount": (0x1, NA, EBX, 16, 8),
    "localapicid": (0x1, NA, EBX, 24, 8),
    "est": (0x1, NA, ECX, 7, 1),
    "cntxid": (0x1, NA, ECX, 10, 1),
    "cmpxchg16": (0x1, NA, ECX, 13, 1),
    "sse4_1": (0x1, NA, ECX, 19, 1),
    "sse4.1": (0x1, NA, ECX, 19, 1),
    "sse4_2": (0x1, NA, ECX, 20, 1),
    "sse4.2": (0x1, NA, ECX, 20, 1),
    "aes": (0x1, NA, ECX, 25, 1),
    "cmpxchg8": (0x1, NA, EDX, 8, 1),
    "sysenter": (0x1, NA, EDX, 11, 1),
    "psn": (0x1, NA, EDX, 18, 1),
    "clfsh": (0x1, NA, EDX, 19, 1),
    "tm": (0x1, NA, EDX, 29, 1),
    "ia64": (0x1, NA, EDX, 30, 1),
    "pbe": (0x1, NA, EDX, 31, 1),
    "arat": (0x6, NA, EAX, 2, 1),
    "tsc_adjust": (0x7, 0, EBX, 1, 1),
    "cmt": (0x7, 0, EBX, 12, 1),
    "lahfsahf": (0x80000001, NA, ECX, 0, 1),
    "cmplegacy": (0x80000001, NA, ECX, 1, 1),
    "altmovcr8": (0x80000001, NA, ECX, 4, 1),
    "nodeid": (0x80000001, NA, ECX, 19, 1),
    "perfctr_core": (0x80000001, NA, ECX, 23, 1),
    "perfctr_nb": (0x80000001, NA, ECX, 24, 1),
    "procpkg": (0x4, 0, EAX, 26, 6),
    "invtsc": (0x80000007, NA, EDX, 8, 1),
    "ppin": (0x80000008, NA, EBX, 23, 1),
    "btc-no": (0x80000008, NA, EBX, 29, 1),
    "nc": (0x80000008, NA, ECX, 0, 8),
    "apicidsize": (0x80000008, NA, ECX, 12, 4),
    "svm_npt": (0x8000000A, NA, EDX, 0, 1),
    "svm_lbrv": (0x8000000A, NA, EDX, 1, 1),
    "svm_nrips": (0x8000000A, NA, EDX, 3, 1),
    "svm_tscrate": (0x8000000A, NA, EDX, 4, 1),
    "svm_vmcbclean": (0x8000000A, NA, EDX, 5, 1),
    "svm_decode": (0x8000000A, NA, EDX, 7, 1),
    "svm_pausefilt": (0x8000000A, NA, EDX, 10, 1),
    "lfence+": (0x80000021, NA, EAX, 2, 1),
    "maxhvleaf": (0x40000000, NA, EAX, 0, 8),
}

#: Where each 32-bit word of Xen's featureset lives: a CPUID (leaf, subleaf,
#: register), or ("msr", index, half) for MSR_ARCH_CAPS (0x10a).
FEATURE_WORDS = [
    (0x1, NA, EDX), (0x1, NA, ECX), (0x80000001, NA, EDX), (0x80000001, NA, ECX),
    (0xD, 1, EAX), (0x7, 0, EBX), (0x7, 0, ECX), (0x80000007, NA, EDX),
    (0x80000008, NA, EBX), (0x7, 0, EDX), (0x7, 1, EAX), (0x80000021, NA, EAX),
    (0x7, 1, EBX), (0x7, 2, EDX), (0x7, 1, ECX), (0x7, 1, EDX),
    ("msr", 0x10A, EAX), ("msr", 0x10A, EDX), (0x80000021, NA, ECX),
]

FLAG_ERRORS = {1: 'missing "=" in key=value', 2: "unknown CPUID flag name",
               3: "illegal CPUID value (must be: [0|1|x|k|s])"}
LINE_ERRORS = {1: "illegal leaf number", 2: "illegal subleaf number", 3: "missing colon",
               4: "invalid register name (must be e[abcd]x)", 5: "policy string must be exactly 32 characters long"}


def _set_field(policy: CpuidPolicy, name: str, where: tuple, value: str) -> int:
    """Write `value` into one field of a leaf's register (libxl's cpuid_add)."""
    leaf, subleaf, register, bit, width = where
    entry = policy.leaf(leaf, subleaf)
    number, read = strtoul(value, 0)
    if read:
        bits = [("01"[(number >> i) & 1]) for i in range(width - 1, -1, -1)]
    elif value[:1] in ("x", "k", "s"):
        bits = [value[0]] * width
    else:
        return 3
    reg = list(entry.registers[register] or "x" * 32)

    def put(first_bit: int, chars) -> None:  # bit numbers count from the right
        chars = list(chars)
        start = 32 - len(chars) - first_bit
        reg[start:start + len(chars)] = chars

    if name == "family":
        # A family above 15 is 15 in the base field plus the rest in the extended one.
        if number < 16:
            put(bit, bits[4:8])
            put(20, "00000000")
        else:
            extended = list(bits)
            rest = number - 15
            for i in range(7):
                extended[7 - i] = "01"[rest & 1]
                rest >>= 1
            put(bit, "1111")
            put(20, extended)
    elif name == "model":
        put(16, bits[:4])  # the extended model
        put(bit, bits[4:8])
    else:
        put(bit, bits)
    entry.registers[register] = "".join(reg)
    return 0


def _set_msr_bit(policy: CpuidPolicy, index: int, bit: int, value: str) -> int:
    entry = policy.msr(index)
    if len(value) != 1 or value not in "01xks":
        return 3
    entry.policy[63 - bit] = "k" if value == "s" else value  # the MSR policy has no 's'
    return 0


def apply_flag(policy: CpuidPolicy, text: str) -> int:
    """One NAME=VALUE of the string form; 0, or libxl's error number."""
    name, sep, value = text.partition("=")
    if not sep:
        return 1
    if name in NAMED_FIELDS:
        return _set_field(policy, name, NAMED_FIELDS[name], value)
    feature = FEATURES.get(name)
    if feature is None:
        return 2
    where = FEATURE_WORDS[feature // 32]
    if where[0] == "msr":
        _, index, half = where
        return _set_msr_bit(policy, index, feature % 32 + (32 if half == EDX else 0), value)
    return _set_field(policy, name, (*where, feature % 32, 1), value)


def apply_xend_line(policy: CpuidPolicy, text: str) -> int:
    """One "LEAF[,SUBLEAF]:eax=...,..." line of the list form; 0, or libxl's error number."""
    leaf, read = strtoul(text, 0)
    if not read:
        return 1
    rest, subleaf = text[read:], UNUSED
    if rest.startswith(","):
        subleaf, read = strtoul(rest[1:], 0)
        if not read:
            return 2
        rest = rest[1 + read:]
    if not rest.startswith(":"):
        return 3
    entry = policy.leaf(leaf & 0xFFFFFFFF, subleaf & 0xFFFFFFFF)
    rest = rest[1:]
    while rest:
        if len(rest) < 3 or rest[0] != "e" or rest[2] != "x" or rest[1] not in "abcd" or "=" not in rest:
            return 4
        register = "abcd".index(rest[1])
        bits = rest[rest.index("=") + 1:]
        bits, comma, rest = bits.partition(",")
        if len(bits) != 32:
            return 5
        entry.registers[register] = bits
        if not comma:
            break
        rest = rest.lstrip(" \n")
    return 0
