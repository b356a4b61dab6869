"""The lab: a real Xen 4.17 hypervisor and Debian dom0 booted under QEMU
(TCG), with xlpy's libxc backend driving real guests inside it.

../shared/xenlab/setup.sh builds the hypervisor, dom0 kernel and dom0
initramfs from Debian packages (about a minute, root, ~150 MB download). This
module adds xlpy's own part: what dom0 lacks for HVM guests (QEMU and SeaBIOS)
and for vifs (iproute2, which vif-bridge runs), installed into a copy of the
root filesystem and kept as a cpio archive; a
dom0 init (appended to the initramfs as a further cpio archive), a guest
initramfs, and a 9p share holding xlpy as `pip install` puts it, plus the
scenario. dom0 runs the scenario, writes
results.json into the share and powers off; the serial log is kept too.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BOOT_TIMEOUT = 2400  # seconds; TCG is slow and slower still on a busy machine, and HVM guests slower still
GUEST_APPLETS = ("sh", "mount", "cat", "grep", "head", "tr", "sleep", "poweroff", "echo", "insmod", "ifconfig", "ping")
QEMU = "qemu-system-x86_64"
# What dom0 needs beyond the shared lab's root: HVM guests' device model (which
# brings SeaBIOS, the firmware hvmloader hands control to), and `ip` for the
# vif-bridge hotplug script.
DOM0_PACKAGES = ("qemu-system-xen", "iproute2")
OVERLAY = "dom0-overlay.cpio"
# What dom0 loads beyond the shared lab's modules: the tun device QEMU opens for an emulated NIC.
DOM0_MODULES = ("drivers/net/tun.ko",)
# The PV drivers the guest's initramfs loads (Debian builds them as modules without dependencies).
GUEST_MODULES = ("drivers/block/xen-blkfront.ko", "drivers/net/xen-netfront.ko")
PARTS = ("guests", "saverestore", "hvm", "inject")  # as scenario.py names them
OVERLAY_SKIP = ("./usr/share/doc", "./usr/share/man", "./usr/share/locale", "./var/cache/apt", "./var/lib/apt/lists")


def lab_dir() -> Path:
    return Path(os.environ.get("XLPY_LAB_DIR", "/tmp/xlpy-xenlab"))


def why_not_here() -> str | None:
    """Why this machine cannot run the lab, or None."""
    if os.geteuid() != 0:
        return "building the lab needs root (debootstrap, chroot)"
    if not Path("/etc/debian_version").exists():
        return "the lab is built from Debian packages"
    return None


def ensure_built(shared: Path, log: Path) -> Path:
    """Run ../shared/xenlab/setup.sh unless its outputs are already there,
    and add what HVM guests need."""
    lab = lab_dir()
    if not all((lab / name).exists() for name in ("xen-4.17.elf", "vmlinuz", "dom0-initrd.cpio")) \
            or not shutil.which(QEMU):
        (lab / OVERLAY).unlink(missing_ok=True)  # built from the root filesystem being replaced
        with open(log, "w") as out:
            subprocess.run(["bash", str(shared / "xenlab" / "setup.sh")], env={**os.environ, "L": str(lab)},
                           stdout=out, stderr=subprocess.STDOUT, check=True)
    ensure_dom0_overlay(lab, log)
    return lab


def _cpio(tree: Path, archive: Path, names: list[str] | None = None) -> None:
    """An uncompressed newc archive of `tree` (or of `names` in it), as the
    kernel's initramfs reads it."""
    if names is None:
        names = _tree_names(tree)
    with open(archive, "wb") as out:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=tree, input="\n".join(names).encode(),
                       stdout=out, check=True)


def _tree_names(tree: Path) -> list[str]:
    return subprocess.run(["find", "."], cwd=tree, capture_output=True, text=True, check=True).stdout.split()


def ensure_dom0_overlay(lab: Path, log: Path) -> Path:
    """The files installing DOM0_PACKAGES adds to dom0's root, as a cpio archive
    appended to the dom0 initramfs; built once (about a minute) and kept in
    the lab directory with the list it was built from, rebuilt when the list
    changes. The shared root filesystem is left as it is."""
    overlay, built_from = lab / OVERLAY, lab / f"{OVERLAY}.packages"
    if overlay.exists() and built_from.exists() and built_from.read_text() == " ".join(DOM0_PACKAGES):
        return overlay
    (lab / "hvm-overlay.cpio").unlink(missing_ok=True)  # its forerunner, QEMU alone
    root = lab / "hvm-rootfs"
    if os.path.ismount(root / "proc"):  # an earlier build was cut short
        subprocess.run(["umount", str(root / "proc")], check=True)
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run(["cp", "-a", str(lab / "rootfs"), str(root)], check=True)
    before = set(_tree_names(root))
    install = ("apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
               f"--no-install-recommends {' '.join(DOM0_PACKAGES)}")
    subprocess.run(["mount", "--bind", "/proc", str(root / "proc")], check=True)
    try:
        with open(log, "a") as out:
            subprocess.run(["chroot", str(root), "sh", "-c", install], stdout=out, stderr=subprocess.STDOUT,
                           check=True)
    finally:
        subprocess.run(["umount", str(root / "proc")], check=True)
    added = sorted(name for name in set(_tree_names(root)) - before if not name.startswith(OVERLAY_SKIP))
    partial = overlay.with_suffix(".partial")
    _cpio(root, partial, added)
    partial.rename(overlay)
    built_from.write_text(" ".join(DOM0_PACKAGES))
    shutil.rmtree(root)
    return overlay


def _guest_initrd(work: Path, target: Path) -> None:
    tree = work / "guest"
    for sub in ("bin", "sbin", "proc", "sys", "dev"):
        (tree / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy2("/bin/busybox", tree / "bin" / "busybox")
    for applet in GUEST_APPLETS:
        (tree / "bin" / applet).symlink_to("busybox")
    (tree / "sbin" / "poweroff").symlink_to("../bin/busybox")  # the kernel's orderly poweroff runs it
    shutil.copy2(HERE / "guest_init.sh", tree / "init")
    for module in GUEST_MODULES:  # from the kernel package setup.sh unpacked
        for found in sorted(lab_dir().glob(f"x/linux/lib/modules/*/kernel/{module}"))[:1]:
            shutil.copy2(found, tree / found.name)
    _cpio(tree, work / "guest.cpio")
    with open(work / "guest.cpio", "rb") as raw, gzip.open(target, "wb", compresslevel=1) as packed:
        shutil.copyfileobj(raw, packed)


def _dom0_initrd(lab: Path, work: Path) -> Path:
    """Debian's dom0 initramfs, then the packages dom0 lacks, then xlpy's init,
    each a cpio archive of its own: the kernel unpacks them in turn."""
    tree = work / "overlay"
    (tree / "xlpy-modules").mkdir(parents=True)
    shutil.copy2(HERE / "dom0_init.sh", tree / "xlpy-lab-init")
    for module in DOM0_MODULES:
        for found in sorted(lab.glob(f"x/linux/lib/modules/*/kernel/{module}"))[:1]:
            shutil.copy2(found, tree / "xlpy-modules" / found.name)
    _cpio(tree, work / "overlay.cpio")
    combined = work / "dom0-initrd.cpio"
    with open(combined, "wb") as out:
        for part in (lab / "dom0-initrd.cpio", lab / OVERLAY, work / "overlay.cpio"):
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
    return combined


def parts_asked() -> list[str] | None:
    """XLPY_LAB_PARTS=hvm,saverestore runs only those parts of the scenario (and
    Domain-0's info and list), to try one change in a few minutes; None (all
    of it) when unset. CI ignores it: there the whole scenario runs."""
    asked = os.environ.get("XLPY_LAB_PARTS", "").strip()
    if not asked:
        return None
    parts = [part.strip() for part in asked.split(",")]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"XLPY_LAB_PARTS: unknown part(s) {', '.join(unknown)}; the parts are {', '.join(PARTS)}")
    return parts


def prepare_share(work: Path, parts: list[str] | None = None) -> Path:
    """What dom0 mounts: xlpy installed from this checkout, the scenario (and
    which of its parts to run; all when None), the guest."""
    share = work / "share"
    share.mkdir(parents=True)
    if parts is not None:
        (share / "parts.txt").write_text(",".join(parts))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(share / "site"), str(ROOT)],
                   check=True, capture_output=True)
    shutil.copy2(HERE / "scenario.py", share / "scenario.py")
    _guest_initrd(work, share / "guest-initrd.gz")
    return share


def boot(lab: Path, work: Path, share: Path) -> dict:
    """Boot Xen and dom0 once; returns how it went (rc, seconds, serial log)."""
    initrd = _dom0_initrd(lab, work)
    xen_args = "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M loglvl=all guest_loglvl=all"
    dom0_args = "console=hvc0 earlyprintk=xen loglevel=6 rdinit=/xlpy-lab-init"
    argv = ["timeout", str(BOOT_TIMEOUT), QEMU, "-accel", "tcg,thread=multi", "-machine", "q35",
            # qemu64 with SVM and nested paging: Xen gets HAP. Not `max`: its SMAP breaks the PV dom0.
            "-cpu", "qemu64,+svm,+npt", "-smp", "2", "-m", "3072",
            "-nographic", "-no-reboot", "-serial", "mon:stdio", "-display", "none", "-net", "none",
            "-virtfs", f"local,path={share},mount_tag=host0,security_model=none,id=host0",
            "-kernel", str(lab / "xen-4.17.elf"), "-append", xen_args,
            "-initrd", f"{lab / 'vmlinuz'} {dom0_args},{initrd}"]
    start = time.monotonic()
    with open(work / "serial.log", "wb") as serial:
        rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=serial, stderr=subprocess.STDOUT).returncode
    return {"rc": rc, "seconds": round(time.monotonic() - start, 1),
            "serial": (work / "serial.log").read_text(errors="replace")}


def keep_last_run(work: Path) -> Path:
    """Copy a run's results, scenario log and serial log beside the lab."""
    last = lab_dir() / "last-run"
    last.mkdir(parents=True, exist_ok=True)
    for source in (work / "share" / "results.json", work / "share" / "scenario.log", work / "serial.log"):
        if source.exists():
            shutil.copy2(source, last / source.name)
    return last
