"""xlpy's libxc backend on a real Xen 4.17 host, booted under QEMU.

One boot runs tests/xenlab/scenario.py inside dom0; each test here judges
one part of what it recorded, against what the real xl saw on the same host.
Locally the lab is opt-in (XLPY_LAB=1: about two minutes to build once, five
to ten to boot and run); in CI it always runs and a lab that cannot boot fails.
"""

from __future__ import annotations

import json
import os
import re
import warnings

import pytest

from conftest import IN_CI, require
from xenlab import lab

pytestmark = [pytest.mark.xenlab, pytest.mark.slow]


@pytest.fixture(scope="module")
def steps(shared, tmp_path_factory) -> dict:
    require(IN_CI or os.environ.get("XLPY_LAB") == "1",
            "the Xen lab boots a real hypervisor under QEMU (minutes): set XLPY_LAB=1 to run it")
    problem = lab.why_not_here()
    require(problem is None, f"the Xen lab cannot run here: {problem}")
    work = tmp_path_factory.mktemp("xenlab")
    parts = None if IN_CI else lab.parts_asked()
    built = lab.ensure_built(shared, work / "setup.log")
    booted = lab.boot(built, work, lab.prepare_share(work, parts))
    results = work / "share" / "results.json"
    lab.keep_last_run(work)  # for benchmarks/bench_xenlab.py and for reading after a failure
    tail = "\n".join(booted["serial"].splitlines()[-40:])
    assert results.exists(), f"dom0 wrote no results (qemu rc={booted['rc']}); serial log ends:\n{tail}"
    steps = json.loads(results.read_text())
    if parts is not None:
        steps = PartialRun(steps, parts)
    for name in (name for name in steps if name.endswith("-first-attempt")):
        warnings.warn(f"lab: {name.removesuffix('-first-attempt')} needed a second boot; the first died "
                      f"early (see {lab.lab_dir() / 'last-run' / 'results.json'})")
    return steps


class PartialRun(dict):
    """The steps of a run limited by XLPY_LAB_PARTS: a test that needs a step
    the run left out skips, saying so, instead of failing."""

    def __init__(self, steps: dict, parts: list[str]):
        super().__init__(steps)
        self.parts = parts

    def __missing__(self, name: str):
        pytest.skip(f"step {name} is not in this run's parts (XLPY_LAB_PARTS={','.join(self.parts)})")


def ok(step: dict) -> dict:
    assert step["rc"] == 0, f"{' '.join(step['argv'])} exited {step['rc']}: {step['stderr'] or step['stdout']}"
    return step


def xl_rows(step: dict) -> dict[str, list[str]]:
    """`xl list` rows by name: [id, mem, vcpus, state, time]."""
    rows = {}
    for line in ok(step)["stdout"].splitlines()[1:]:
        name, *rest = line.split()
        rows[name] = rest
    return rows


def info_fields(step: dict) -> dict[str, str]:
    return dict((key.strip(), value.strip()) for key, _, value in
                (line.partition(":") for line in ok(step)["stdout"].splitlines() if line))


def test_info_prints_what_xl_info_prints(steps):
    ours, theirs = info_fields(steps["xlpy-info"]), info_fields(steps["xl-info"])
    assert list(ours) == list(theirs)  # the same keys in the same order
    differ = {key: (ours[key], theirs[key]) for key in ours if ours[key] != theirs[key]}
    differ.pop("free_memory", None)  # may move between the two calls
    assert differ == {}


def test_list_shows_dom0_as_xl_does(steps):
    ours, theirs = xl_rows(steps["xlpy-list-dom0"]), xl_rows(steps["xl-list-dom0"])
    assert ours["Domain-0"][:3] == theirs["Domain-0"][:3]  # id, memory, vCPUs


def test_uptime_is_xl_s(steps):
    """The same rows; Domain-0's from the host's uptime, the guest's from its
    recorded start time, which xl reads too (a few seconds pass between the two)."""
    def rows(step):
        out = {}
        for line in ok(step)["stdout"].splitlines()[1:]:
            name, domid, clock = line.split()
            hours, minutes, seconds = map(int, clock.split(":"))
            out[(name, domid)] = hours * 3600 + minutes * 60 + seconds
        return out

    ours, theirs = rows(steps["pvh-xlpy-uptime"]), rows(steps["pvh-xl-uptime"])
    assert list(ours) == list(theirs) and [name for name, _ in ours] == ["Domain-0", "lab-pvh"]
    assert all(0 <= theirs[key] - ours[key] <= 10 for key in ours), (ours, theirs)


def test_a_crash_dumps_the_core_then_destroys(steps):
    """on_crash="coredump-destroy": an ELF core of the guest's memory in xl's
    dump directory, named after the guest, as large as `xl dump-core` makes
    of the same crashed guest (the pages its p2m lists), and the domain gone."""
    ok(steps["crash-daemon-killed"])  # so that the crashed guest waits for the next command
    assert steps["crash-said"]["found"], steps["crash-said"]["console"]
    assert "c" in xl_rows(steps["crash-xl-list"])["lab-crash"][3]  # crashed, waiting for the toolstack
    ok(steps["crash-list-reaps"])
    assert steps["crash-gone"]["gone"]
    ok(steps["crash-xl-dump-core"])
    ours, theirs, magic = ok(steps["crash-core"])["stdout"].split("\n", 2)
    assert int(ours) == int(theirs) > 64 << 20 and magic.split() == ["177", "E", "L", "F"], steps["crash-core"]["stdout"]


def test_list_long_shows_dom0_as_xl_does(steps):
    """Byte for byte: xen-init-dom0's stub as libxl retrieves it."""
    assert ok(steps["xlpy-list-l-dom0"])["stdout"] == ok(steps["xl-list-l-dom0"])["stdout"]


def test_list_long_shows_a_guest_xl_created_as_xl_does(steps):
    """xlpy reads the config libxl stored for xl's guest and brings it up to
    date from the running domain as libxl does."""
    assert steps["xl-pv-alive"]["found"], steps["xl-pv-alive"]["console"]
    assert ok(steps["xl-pv-xlpy-list-l"])["stdout"] == ok(steps["xl-pv-xl-list-l"])["stdout"]


def test_the_config_xlpy_keeps_is_the_one_xl_keeps(steps):
    """The same config created by xl and by xlpy: list -l prints the same
    but for the name, the UUID and the domid."""
    def masked(step):
        entry = json.loads(ok(step)["stdout"])[0]
        entry.pop("domid")
        c_info = entry["config"]["c_info"]
        c_info["name"], c_info["uuid"] = "NAME", "UUID"
        return entry

    assert steps["xlpy-pv-alive"]["found"], steps["xlpy-pv-alive"]["console"]
    assert masked(steps["xlpy-pv-xlpy-list-l"]) == masked(steps["xl-pv-xl-list-l"])


def test_the_real_xl_reads_and_changes_the_config_xlpy_keeps(steps):
    """xlpy keeps a guest's config in libxl's userdata: `xl list -l` shows it
    byte for byte, `xl mem-set` updates it for xlpy to see, `xl save` saves
    the guest with it (xlpy restores it), and destroy, libxl's or xlpy's,
    leaves none of the domain's userdata behind."""
    ours = ok(steps["xlpy-pv-xlpy-list-l"])["stdout"]
    assert ok(steps["xlpy-pv-xl-list-l"])["stdout"] == ours
    ok(steps["xlpy-pv-xl-mem-set"])
    after = json.loads(ok(steps["xlpy-pv-xlpy-list-l-after"])["stdout"])[0]
    assert after["config"]["b_info"]["target_memkb"] == 200 * 1024
    ok(steps["xlpy-pv-xl-save"]), ok(steps["xlpy-pv-restore"])
    restored = xl_rows(steps["xlpy-pv-xl-list-restored"])["lab-xlpy-pv"]
    for step, domid in (("xlpy-pv-userdata-saved", after["domid"]), ("xlpy-pv-userdata-after", restored[0])):
        leftovers = [name for name in ok(steps[step])["stdout"].split()
                     if name.startswith("userdata-") and f".{domid}." in name]
        assert leftovers == [], step


def test_rename_restart_preserves_as_xl_does(steps):
    """The dead guest is kept under a dated name with Xen's same handle (UUID)
    and a /vm link of its own; the config runs again under its name."""
    assert steps["rr-done"]["found"], steps["rr-done"]["console"]
    rows = {line.split()[0]: line.split() for line in ok(steps["rr-xlpy-list-v"])["stdout"].splitlines()[1:]}
    preserved = [name for name in rows if name.startswith("lab-rr-")]
    assert len(preserved) == 1 and "lab-rr" in rows, rows
    assert rows[preserved[0]][6] == rows["lab-rr"][6]  # same UUID
    links = {fields[1]: fields[2] for fields in (line.split() for line in ok(steps["rr-vm-links"])["stdout"].splitlines())
             if len(fields) == 3}
    assert links["lab-rr"] == f"/vm/{rows['lab-rr'][6]}" and links[preserved[0]] != links["lab-rr"], links
    assert steps["rr-gone"]["gone"]


def test_pvh_guest_boots_as_pvh_and_both_toolstacks_see_it(steps):
    ok(steps["pvh-create"])
    assert steps["pvh-alive"]["found"], steps["pvh-alive"]["console"]
    assert "type=PVH cpus=2" in steps["pvh-alive"]["console"]  # both vCPUs found through the MADT
    ours, theirs = xl_rows(steps["pvh-xlpy-list"]), xl_rows(steps["pvh-xl-list"])
    assert ours["lab-pvh"][:3] == theirs["lab-pvh"][:3]


def test_a_second_guest_of_the_same_name_is_refused(steps):
    again = steps["pvh-create-again"]
    assert again["rc"] not in (0, None) and "already exists" in again["stderr"], again["stderr"]
    names = [line.split()[0] for line in ok(steps["pvh-xl-list-all"])["stdout"].splitlines()[1:]]
    assert names == ["Domain-0", "lab-pvh"]


def test_pause_and_unpause_reach_the_hypervisor(steps):
    ok(steps["pvh-pause"]), ok(steps["pvh-unpause"])
    assert "p" in xl_rows(steps["pvh-xl-list-paused"])["lab-pvh"][3]
    assert "p" not in xl_rows(steps["pvh-xl-list-unpaused"])["lab-pvh"][3]


def test_vcpu_list_shows_the_guest_vcpu(steps):
    lines = ok(steps["pvh-vcpu-list"])["stdout"].splitlines()
    assert lines[0].split()[:3] == ["Name", "ID", "VCPU"]
    assert any(line.split()[0] == "lab-pvh" for line in lines[1:])


def test_shutdown_asks_the_guest_and_waits(steps):
    ok(steps["pvh-shutdown"])
    assert steps["pvh-shutdown-seen"]["found"], steps["pvh-shutdown-seen"]["console"]
    assert steps["pvh-gone"]["gone"]


def test_the_cpuid_policy_reaches_the_guest(steps):
    """cpuid="host,sse3=0" hides SSE3 from the PVH guest; the PV guest, without cpuid=, sees it."""
    assert "sse3=0" in steps["pvh-alive"]["console"], steps["pvh-alive"]["console"]
    assert "sse3=1" in steps["pv-done"]["console"], steps["pv-done"]["console"]


def test_the_clock_offset_reaches_the_guest(steps):
    """rtc_timeoffset=86400 sets the PV guest's wall clock a day ahead of dom0's."""
    done = steps["pv-done"]
    guest_epoch = int(done["console"].split("epoch=", 1)[1].split()[0])
    assert abs(guest_epoch - done["host_epoch"] - 86400) < 600, (guest_epoch, done["host_epoch"])


def test_pv_guest_boots_and_on_poweroff_is_carried_out(steps):
    ok(steps["pv-create"])
    assert steps["pv-done"]["found"], steps["pv-done"]["console"]
    assert "type=PV cpus=2" in steps["pv-done"]["console"]
    ok(steps["pv-list-reaps"])
    assert steps["pv-gone"]["gone"]


def test_legacy_pvh_config_boots_as_pvh_where_xl_would_boot_pv(steps):
    create = ok(steps["legacy-create"])
    assert "P101" in create["stderr"]  # pvh=1 is said to be the original design, once
    assert "booted it as modern PVH" in create["stderr"]  # this kernel has only the modern entry
    assert steps["legacy-alive"]["found"], steps["legacy-alive"]["console"]
    assert "type=PVH" in steps["legacy-alive"]["console"]
    ok(steps["legacy-destroy"])
    assert steps["legacy-gone"]["gone"]


def test_failed_create_leaves_no_domain_behind(steps):
    bad = steps["bad-create"]
    assert bad["rc"] not in (0, None)
    errors = [line for line in bad["stderr"].splitlines() if not line.startswith("Parsing config from")]
    assert len(errors) == 1 and "no loader found" in errors[0], bad["stderr"]
    assert "lab-bad" not in xl_rows(steps["bad-xl-list"])
    assert ok(steps["bad-xenstore"])["stdout"].split() == ["0"]


def test_a_failure_at_any_step_of_a_real_create_leaves_nothing_behind(steps):
    outcome = {}
    for line in ok(steps["inject"])["stdout"].splitlines():
        outcome.update(json.loads(line))
    assert len(outcome) >= 20
    for step, after in outcome.items():
        assert after["error"] is not None, f"create survived a failure in {step}"
        assert after["domains"] == [0] and after["xenstore"] == ["0"], f"{step} left {after}"


@pytest.mark.parametrize("part", ["guests", "saverestore", "hvm"])
def test_each_part_of_the_run_ends_with_its_guests_gone(steps, part):
    """Every guest a part creates, by xlpy or by xl, is destroyed, reaped or
    powered off by the end of the part; what is left is destroyed before the
    next part, so that it is counted here and nowhere else."""
    assert steps[f"{part}-leftovers"]["domains"] == []


def test_the_same_pv_guest_boots_through_both_toolstacks(steps):
    """The pair benchmarks/bench_xenlab.py times; here only that both worked."""
    for tool in ("xlpy", "xl"):
        ok(steps[f"time-{tool}-create"])
        assert steps[f"time-{tool}-done"]["found"], steps[f"time-{tool}-done"]["console"]


def test_hvm_guest_boots_through_hvmloader_seabios_and_qemu(steps):
    """memory=128 of maxmem=256 (populate-on-demand), vcpus=1 of maxvcpus=2:
    hvm_info marks only the one online, so the guest finds one CPU."""
    ok(steps["hvm-create"])
    assert steps["hvm-alive"]["found"], steps["hvm-alive"]["console"]
    assert "type=HVM cpus=1 " in steps["hvm-alive"]["console"], steps["hvm-alive"]["console"]
    qemu = steps["hvm-device-models"]["ps"]
    assert "xen-qemu-system-i386 -xen-domid" in qemu and "-name lab-hvm" in qemu, qemu
    assert "-kernel /guest/vmlinuz" in qemu and "-machine xenfv" in qemu
    xen_log = ok(steps["hvm-xen-log"])["stdout"]
    assert "HVM Loader" in xen_log and "SeaBIOS" in xen_log  # the firmware's own lines, on Xen's console
    ours, theirs = xl_rows(steps["hvm-xlpy-list"]), xl_rows(steps["hvm-xl-list"])
    assert ours["lab-hvm"][:3] == theirs["lab-hvm"][:3]


def test_an_hvm_guest_created_paused_runs_nothing_until_unpause(steps):
    """xlpy create -p: QEMU waits stopped before its first instruction (-S,
    QMP status "prelaunch"), the domain is paused and its console empty; xlpy
    unpause continues QEMU (then "running") and the guest boots."""
    assert "-p" in ok(steps["hvm-create"])["argv"]
    assert ok(steps["hvm-paused-qmp"])["stdout"].strip() == "prelaunch", steps["hvm-paused-qmp"]
    assert "p" in xl_rows(steps["hvm-paused-xl-list"])["lab-hvm"][3]
    assert steps["hvm-paused-console"]["console"] == "", steps["hvm-paused-console"]
    ok(steps["hvm-unpause"])
    assert ok(steps["hvm-unpaused-qmp"])["stdout"].strip() == "running", steps["hvm-unpaused-qmp"]
    assert steps["hvm-alive"]["found"], steps["hvm-alive"]["console"]


def test_unpause_continues_the_device_model_whichever_toolstack_started_it(steps):
    """The paused HVM guests of both toolstacks: xlpy's QEMU waits stopped;
    libxl 4.17 starts QEMU stopped only when it pre-opens the QMP socket
    (dm_restrict), so xl's runs. Each toolstack's unpause of the other's
    guest continues its QEMU (xl's because xlpy records dm-version as libxl does)."""
    assert ok(steps["pod-paused-xlpy-qmp"])["stdout"].strip() == "prelaunch"
    assert ok(steps["pod-paused-xl-qmp"])["stdout"].strip() == "running"
    for tool in ("xlpy", "xl"):
        ok(steps[f"pod-paused-{tool}-unpause"])
        assert ok(steps[f"pod-unpaused-{tool}-qmp"])["stdout"].strip() == "running", tool


def test_destroying_an_hvm_guest_stops_its_device_model(steps):
    ok(steps["hvm-destroy"])
    assert steps["hvm-time-xlpy-gone"]["gone"]
    assert steps["hvm-destroy-device-models-after"]["ps"] == ""
    assert ok(steps["hvm-destroy-xenstore-after"])["stdout"] == ""  # no domain's device model left in xenstore


def test_shutting_down_an_hvm_guest_waits_and_stops_its_device_model(steps):
    """The guest's PV drivers answer control/shutdown; on_poweroff destroys it and stops QEMU."""
    assert "-name lab-hvm" in steps["hvm-device-models"]["ps"]
    ok(steps["hvm-shutdown"])
    assert steps["hvm-shutdown-seen"]["found"], steps["hvm-shutdown-seen"]["console"]
    assert steps["hvm-gone"]["gone"]
    assert steps["hvm-device-models-after"]["ps"] == ""
    assert ok(steps["hvm-xenstore-after"])["stdout"] == ""


def test_an_hvm_guest_s_vif_and_its_emulated_twin_are_both_bridged(steps):
    """An HVM guest's vif (type ioemu by default): QEMU's rtl8139 on the tap
    vif<domid>.0-emu, which the vif's script, run a second time, bridges
    beside netback's vif<domid>.0; both leave the bridge with the guest."""
    ok(steps["hvm-create"])
    domid = xl_rows(steps["hvm-xl-list"])["lab-hvm"][0]
    assert f"-netdev type=tap,id=net0,ifname=vif{domid}.0-emu," in steps["hvm-device-models"]["ps"]
    assert set(ok(steps["hvm-bridge-ports"])["stdout"].split()) == {f"vif{domid}.0", f"vif{domid}.0-emu"}
    assert ok(steps["hvm-bridge-ports-after"])["stdout"] == ""


def test_acpi_and_smbios_firmware_reach_the_guest(steps):
    """acpi_firmware's SSDT and smbios_firmware's system information, loaded as
    hvmloader modules, are among the tables the guest's kernel reads."""
    lines = "\n".join(steps["hvm-firmware-lines"]["lines"])
    assert "DMI: XLPY LAB" in lines, lines
    assert "SSDT" in lines and "XLPYLB LABSSDT" in lines, lines
    keys = xenstore_tree(ok(steps["hvm-xenstore-hvmloader"])["stdout"])
    assert (keys["acpi/length"], keys["smbios/length"]) == ("0x24", "0x29"), keys  # each module's size
    assert keys["acpi/address"].startswith("0x") and keys["smbios/address"].startswith("0x"), keys


def xenstore_tree(text: str) -> dict[str, str]:
    """xenstore-ls output as {relative path: value}."""
    tree, path = {}, []
    for line in text.splitlines():
        depth = len(line) - len(line.lstrip(" "))
        key, _, value = line.strip().partition(" = ")
        path[depth:] = [key]
        tree["/".join(path)] = value.strip('"')
    return tree


def test_populate_on_demand_leaves_xen_holding_what_xl_leaves(steps):
    """memory=128, maxmem=256: the same guest created paused by each toolstack
    holds the same memory and vCPUs, and xlpy list shows both as xl list does."""
    for tool in ("xlpy", "xl"):
        ok(steps[f"pod-paused-{tool}-create"])
        assert steps[f"pod-paused-{tool}-gone"]["gone"]
    theirs, ours = xl_rows(steps["pod-paused-xl-list"]), xl_rows(steps["pod-paused-xlpy-list"])
    assert theirs["lab-pod-xlpy"][1:3] == theirs["lab-pod-xl"][1:3], theirs
    for name in ("lab-pod-xlpy", "lab-pod-xl"):
        assert ours[name][1:3] == theirs[name][1:3], (ours, theirs)


def test_an_hvm_create_whose_device_model_fails_leaves_nothing_behind(steps):
    bad = steps["hvm-bad-create"]
    assert bad["rc"] not in (0, None)
    errors = [line for line in bad["stderr"].splitlines() if not line.startswith("Parsing config from")]
    assert len(errors) == 1 and "device model exited" in errors[0] and "-no-such-option" in errors[0], errors
    assert steps["hvm-bad-device-models"]["ps"] == ""
    assert list(xl_rows(steps["hvm-bad-xl-list"])) == ["Domain-0"]
    assert ok(steps["hvm-bad-xenstore"])["stdout"].split() == ["0"]
    assert ok(steps["hvm-bad-xenstore-dm"])["stdout"] == ""


def test_a_failure_at_any_step_of_an_hvm_create_leaves_no_qemu_behind(steps):
    outcome = {}
    for line in ok(steps["inject-hvm"])["stdout"].splitlines():
        outcome.update(json.loads(line))
    assert set(outcome) == {"build_image", "start_device_model", "xs_introduce_domain", "resume_device_model",
                            "unpause_domain"}
    for step, after in outcome.items():
        assert after["error"] is not None, f"create survived a failure in {step}"
        assert after["domains"] == [0] and after["xenstore"] == ["0"], f"{step} left {after}"
        assert after["device_models"] == "" and after["device_model_xenstore"] == [], f"{step} left {after}"


def test_the_same_hvm_guest_boots_through_both_toolstacks_alike(steps):
    """The HVM pair benchmarks/bench_xenlab.py times: the same memory and vCPUs
    once running, and the same CPU features and RAM seen by the guest (its
    clock, which moves on between the two boots, aside)."""
    rows, seen = {}, {}
    for tool in ("xlpy", "xl"):
        ok(steps[f"hvm-time-{tool}-create"])
        alive = steps[f"hvm-time-{tool}-alive"]
        assert alive["found"], alive["console"]
        seen[tool] = [field for field in alive["console"].split("XLPY_GUEST_ALIVE", 1)[1].splitlines()[0].split()
                      if not field.startswith("epoch=")]
        rows[tool] = xl_rows(steps[f"hvm-time-{tool}-xl-list"])[f"lab-hvm-time-{tool}"][1:3]
        assert steps[f"hvm-time-{tool}-gone"]["gone"]
    assert rows["xlpy"] == rows["xl"] and seen["xlpy"] == seen["xl"], (rows, seen)


def test_every_guest_is_gone_at_the_end(steps):
    assert list(xl_rows(steps["final-xl-list"])) == ["Domain-0"]


def carried_on(steps, prefix: str) -> None:
    """The guest counted past its count at save time, from where it was: no
    second boot, no count from 0; and it is in xl's list."""
    ok(steps[f"{prefix}-save"]), ok(steps[f"{prefix}-restore"])
    at_save = steps[f"{prefix}-at-save"]["counts"]
    assert at_save and at_save[-1] >= 3, steps[f"{prefix}-at-save"]["console"]
    after = steps[f"{prefix}-continues"]
    assert after["counts"] and max(after["counts"]) > at_save[-1] + 1, after["console"]
    assert not after["booted_again"] and 0 not in after["counts"], after["console"]
    assert after["counts"][0] >= at_save[-1] - 2, (at_save, after["counts"][:5])  # at most a redrawn line or two
    assert xl_rows(steps[f"{prefix}-xl-list"]), steps[f"{prefix}-xl-list"]


@pytest.mark.parametrize("kind", ["pv", "pvh"])
def test_a_saved_guest_is_restored_running_where_it_was(steps, kind):
    carried_on(steps, f"sr-{kind}")
    assert f"lab-sr-{kind}" not in xl_rows(steps[f"sr-{kind}-saved-list"])  # save destroyed it
    assert steps[f"sr-{kind}-gone"]["gone"]


def test_save_c_leaves_the_guest_running_where_it_was(steps):
    ok(steps["sr-pv-checkpoint"])
    assert steps["sr-pv-checkpoint-file"]["bytes"] > 64 << 20  # the guest's memory is in it
    after = steps["sr-pv-checkpoint-continues"]
    assert after["counts"] and not after["booted_again"] and 0 not in after["counts"], after["console"]


def test_a_restore_that_fails_in_libxc_leaves_no_domain(steps):
    """A save file cut in half: xc_domain_restore fails, the domain goes."""
    failed = steps["sr-trunc-restore"]
    assert failed["rc"] == 1, failed
    errors = [line for line in failed["stderr"].splitlines()
              if not line.startswith(("Loading new save file", " Savefile contains", "Parsing config from"))]
    assert len(errors) == 1 and errors[0].startswith("xlpy: cannot create 'lab-sr-trunc': "), failed["stderr"]
    assert steps["sr-trunc-gone"]["gone"]


@pytest.mark.parametrize("prefix", ["sr-to-xl", "sr-from-xl"])
def test_save_files_move_between_xlpy_and_xl(steps, prefix):
    """xlpy's file restored by the real xl, and xl's by xlpy: the guest counts on."""
    carried_on(steps, prefix)
    assert f"lab-{prefix}" not in xl_rows(steps[f"{prefix}-saved-list"])
    assert steps[f"{prefix}-gone"]["gone"]


def test_an_hvm_guest_is_saved_and_restored_with_its_device_model_state(steps):
    """QEMU's device state goes into the file beside the guest's memory and
    comes back through -incoming: the guest counts on where it was."""
    carried_on(steps, "hvm-sr")
    assert "lab-hvm-time-xlpy" not in xl_rows(steps["hvm-sr-saved-list"])  # save destroyed it
    qemu = [line for line in steps["hvm-sr-device-models"]["ps"].splitlines() if "-name lab-hvm-time-xlpy" in line]
    assert len(qemu) == 1 and " -incoming fd:" in qemu[0], qemu  # one QEMU, which loaded the saved state
    left = [f for f in ok(steps["hvm-sr-lib-files"])["stdout"].split() if f.startswith(("qemu-save", "qemu-resume"))]
    assert left == [], left  # the saved domain's file went with it, the restored one's once QEMU had it


def test_save_c_leaves_an_hvm_guest_and_its_qemu_running(steps):
    ok(steps["hvm-sr-checkpoint"])
    after = steps["hvm-sr-checkpoint-continues"]
    assert after["counts"] and not after["booted_again"] and 0 not in after["counts"], after["console"]


def test_an_hvm_restore_whose_qemu_refuses_its_state_leaves_nothing_behind(steps):
    """The saved QEMU state spoilt: QEMU exits while loading it; the domain, its
    QEMU, its xenstore entries and the state file all go; one line of error."""
    assert steps["hvm-sr-bad-state"]["at"] > 0, steps["hvm-sr-bad-state"]
    failed = steps["hvm-sr-bad-restore"]
    assert failed["rc"] == 1, failed
    errors = [line for line in failed["stderr"].splitlines()
              if not line.startswith(("Loading new save file", " Savefile contains", "Parsing config from"))]
    assert len(errors) == 1 and errors[0].startswith("xlpy: cannot create 'lab-hvm-sr-bad': the device model "
                                                     "exited"), failed["stderr"]
    assert steps["hvm-sr-bad-gone"]["gone"]
    assert "lab-hvm-sr-bad" not in steps["hvm-sr-bad-device-models"]["ps"]
    running = [line for line in steps["hvm-sr-bad-device-models"]["ps"].splitlines() if "xen-domid" in line]
    assert len(running) == 1 and "-name lab-hvm-time-xlpy" in running[0], running  # the checkpointed guest's
    domains = ok(steps["hvm-sr-bad-xenstore"])["stdout"].split()
    assert ok(steps["hvm-sr-bad-xenstore-dm"])["stdout"].split() == domains[1:], domains  # only the running one's
    assert not [f for f in ok(steps["hvm-sr-bad-lib-files"])["stdout"].split() if f.startswith("qemu-resume")]


@pytest.mark.parametrize("prefix", ["hvm-sr-to-xl", "hvm-sr-from-xl"])
def test_hvm_save_files_move_between_xlpy_and_xl(steps, prefix):
    """xlpy's HVM file restored by the real xl (its QEMU loads xlpy's records), and xl's by xlpy."""
    carried_on(steps, prefix)
    assert "lab-hvm-time-xlpy" not in xl_rows(steps[f"{prefix}-saved-list"])


# What differs between two guests' disks by nature: ids, paths, the loop device.
PER_GUEST = {"frontend", "frontend-id", "params", "physical-device", "physical-device-path", "node"}


def test_a_pv_disk_is_plugged_as_libxl_plugs_it(steps):
    """blkback serves the guest the raw file through a loop device the block
    script set up, xen-blkfront reads it; the nodes are the ones xl writes,
    `xl block-list` shows xlpy's disk as xlpy does, and destroy, xl's of
    xlpy's guest (without a complaint) and xlpy's of xl's, leaves no loop
    device or backend behind."""
    for tool in ("xlpy", "xl"):
        ok(steps[f"disk-{tool}-create"])
        console = steps[f"disk-{tool}-read"]["console"]
        assert "=== XLPY_DISK XLPY-DISK-MARKER" in console, (tool, console[-1500:])
    ours, theirs = (xenstore_tree(ok(steps[f"disk-{tool}-backend"])["stdout"]) for tool in ("xlpy", "xl"))
    assert sorted(ours) == sorted(theirs)
    assert {k: v for k, v in ours.items() if k.split("/")[-1] not in PER_GUEST} == \
        {k: v for k, v in theirs.items() if k.split("/")[-1] not in PER_GUEST}
    ours, theirs = (xenstore_tree(ok(steps[f"disk-{tool}-frontend"])["stdout"]) for tool in ("xlpy", "xl"))
    assert sorted(ours) == sorted(theirs)
    assert ok(steps["disk-xlpy-xlpy-block-list"])["stdout"] == ok(steps["disk-xlpy-xl-block-list"])["stdout"]
    for tool in ("xlpy", "xl"):
        ok(steps[f"disk-{tool}-destroy"])
        assert steps[f"disk-{tool}-gone"]["gone"]
    assert steps["disk-xlpy-destroy"]["stderr"] == ""
    assert ok(steps["disk-loops-after"])["stdout"] == ""
    backends = steps["disk-backends-after"]  # gone altogether once its last device went, as libxl leaves it
    assert "vbd" not in backends["stdout"].split() and (backends["rc"] == 0 or "No such file" in backends["stderr"])


def test_a_missing_disk_file_fails_create_in_one_line_and_leaves_nothing(steps):
    failed = steps["disk-missing-create"]
    assert failed["rc"] != 0 and "Traceback" not in failed["stderr"]
    lines = failed["stderr"].strip().splitlines()  # after xl's "Parsing config from ..."
    assert len(lines) == 2 and lines[1].endswith("disk xvda: failed to stat /tmp/lab/no-such.img: "
                                                 "No such file or directory"), failed["stderr"]
    assert "lab-disk-missing" not in xl_rows(steps["disk-missing-xl-list"])


# What differs between two guests' vif backends by nature: the frontend's path and id, the MAC.
VIF_PER_GUEST = {"frontend", "frontend-id", "mac"}


def vif_tree(step: dict) -> dict[str, str]:
    tree = xenstore_tree(ok(step)["stdout"])
    return {k: v for k, v in tree.items() if not set(k.split("/")) & VIF_PER_GUEST}


def test_a_vif_is_plugged_as_libxl_plugs_it(steps):
    """netback's interface goes on the bridge through vif-bridge, the guest's
    netfront pings dom0 and answers dom0's ping; the nodes are xl's, `xl
    network-list` shows xlpy's vif as xlpy does; a vif hot-plugged to the
    running guest connects and leaves the bridge on detach; destroy, xl's of
    xlpy's guest and xlpy's of xl's, leaves no port or backend behind."""
    for n, tool in enumerate(("xlpy", "xl"), start=1):
        ok(steps[f"net-{tool}-create"])
        console = steps[f"net-{tool}-ping"]["console"]
        assert f"=== XLPY_NET address=10.0.0.1{n} mac=00:16:3e:00:00:0{n} ping=yes" in console, \
            (tool, console[-1500:])
        ok(steps[f"net-{tool}-pinged"])
    ours, theirs = (vif_tree(steps[f"net-{tool}-backend"]) for tool in ("xlpy", "xl"))
    assert ours == theirs and ours["0/hotplug-status"] == "connected" and ours["0/state"] == "4"
    ours, theirs = (vif_tree(steps[f"net-{tool}-frontend"]) for tool in ("xlpy", "xl"))
    assert sorted(ours) == sorted(theirs)
    domids = {tool: xenstore_tree(steps[f"net-{tool}-backend"]["stdout"])["0/frontend-id"] for tool in ("xlpy", "xl")}
    ports = {f"vif{domids['xlpy']}.0", f"vif{domids['xl']}.0"}
    assert set(ok(steps["net-ports"])["stdout"].split()) == ports
    assert ok(steps["net-xlpy-xlpy-network-list"])["stdout"] == ok(steps["net-xlpy-xl-network-list"])["stdout"]
    ok(steps["net-attach"])
    assert ok(steps["net-attached-state"])["stdout"].strip() == "4"
    assert set(ok(steps["net-attached-ports"])["stdout"].split()) == ports | {f"vif{domids['xlpy']}.1"}
    ok(steps["net-detach"])
    assert set(ok(steps["net-detached-ports"])["stdout"].split()) == ports
    assert len(ok(steps["net-detached-list"])["stdout"].splitlines()) == 2  # the header and vif 0
    for tool in ("xlpy", "xl"):
        ok(steps[f"net-{tool}-destroy"])
        assert steps[f"net-{tool}-gone"]["gone"]
    assert steps["net-xlpy-destroy"]["stderr"] == ""
    assert ok(steps["net-ports-after"])["stdout"] == ""
    backends = steps["net-backends-after"]
    assert "vif" not in backends["stdout"].split() and (backends["rc"] == 0 or "No such file" in backends["stderr"])


def test_a_vif_on_a_missing_bridge_fails_create_in_one_line_and_leaves_nothing(steps):
    failed = steps["net-nobridge-create"]
    assert failed["rc"] != 0 and "Traceback" not in failed["stderr"]
    lines = failed["stderr"].strip().splitlines()
    assert len(lines) == 2 and "vif 0: " in lines[1] and "xenbr9" in lines[1], failed["stderr"]
    assert "lab-net-nobridge" not in xl_rows(steps["net-nobridge-xl-list"])
    backends = steps["net-nobridge-backends"]
    assert "vif" not in backends["stdout"].split()


def held_json(step: dict) -> dict:
    return json.loads(ok(step)["stdout"])


def masked_domid(text: str, domid: int) -> str:
    """`domid` as D where it names the domain (paths, messages, a *-id node),
    not where a xenstore node's value is merely the same number (state 1)."""
    import re

    masked = re.sub(rf"(?<![0-9]){domid}(?![0-9])", "D", text)
    return re.sub(r'^(\s*(?!\S*-id )\S+ = )"D"$', rf'\1"{domid}"', masked, flags=re.M)


@pytest.mark.parametrize("prefix", ["mem", "pod"])
def test_mem_set_and_mem_max_leave_what_xl_leaves(steps, prefix):
    """The same guest (PVH; HVM with PoD and video RAM) created paused by each
    toolstack, resized by the same one: the same memory nodes and Xen limit
    once created, the same refusals (xl's line, libxl's reason), then the same
    target, static-max, videoram, Xen limit and /vm/<uuid>/memory, and the
    same memory in each one's list -l."""
    seen = {}
    for tool in ("xlpy", "xl"):
        rcs = {suffix: steps[f"{prefix}-{tool}-{suffix}"]["rc"]
               for suffix in ("set", "set-above", "max-below", "max", "set-again")}
        assert rcs == {"set": 0, "set-above": 1, "max-below": 1, "max": 0, "set-again": 0}, (tool, rcs)
        created = held_json(steps[f"{prefix}-{tool}-created"])
        domid, after = created["domid"], held_json(steps[f"{prefix}-{tool}-held"])
        b_info = json.loads(ok(steps[f"{prefix}-{tool}-list-l"])["stdout"])[0]["config"]["b_info"]
        refusals = [masked_domid(steps[f"{prefix}-{tool}-{suffix}"]["stderr"], domid)
                    for suffix in ("set-above", "max-below")]
        seen[tool] = {"created": (created["memory"], created["max_kb"]), "memory": after["memory"], "max_kb": after["max_kb"], "vm_memory": after["vm_memory"],
                      "list_l": (b_info["target_memkb"], b_info["max_memkb"]), "refusals": refusals}
    ours, theirs = seen.pop("xlpy"), seen.pop("xl")
    for mine, xl_said in zip(ours.pop("refusals"), theirs.pop("refusals")):
        *libxl_lines, xl_line = [line for line in xl_said.splitlines() if line.strip()]
        reason = libxl_lines[-1].split("Domain D:", 1)[-1].split(":")[0]  # LOGED adds errno's text
        assert len(mine.splitlines()) == 1 and mine.startswith(xl_line) and reason in mine, (mine, xl_said)
    assert ours == theirs


def test_claim_mode_builds_pv_and_pvh_guests_and_leaves_no_claim(steps):
    """xlpy builds every guest with claim_mode on, as xl does by default;
    libxenguest drops the claim once the memory is in."""
    for step in ("claim-pv", "mem-xlpy"):
        ok(steps[f"{step}-create"])
        created = held_json(steps[f"{step}-held" if step == "claim-pv" else f"{step}-created"])
        assert created["outstanding_pages"] == 0 and created["tot_kb"] >= 250 * 1024, created
    assert info_fields(steps["claim-xl-info"])["outstanding_claims"] == "0"
    assert steps["lab-claim-pv-gone"]["gone"]


def test_save_d_then_restore_keeps_the_domid(steps):
    ok(steps["sr-keep-save"]), ok(steps["sr-keep-restore"])
    before, after = steps["sr-keep-before"]["domid"], steps["sr-keep-after"]["domid"]
    assert before.isdigit() and after == before, (before, after)


def history_entries(step: dict) -> list[tuple[int, int]]:
    """/var/run/xen/domid-history's lines, each "<seconds> <domid>" as libxl writes them."""
    lines = step["text"].splitlines()
    assert lines and all(re.fullmatch(r"\d+ \d+", line) for line in lines), step["text"]
    return [(int(sec), int(domid)) for sec, domid in map(str.split, lines)]


@pytest.mark.parametrize("destroyed, history", [("sr-keep-before", "sr-keep-history"),
                                                ("sr-pv-destroyed", "sr-pv-destroy-history"),
                                                ("sr-pvh-destroyed", "sr-pvh-destroy-history")])
def test_xlpy_s_destroy_leaves_the_domid_in_libxl_s_history(steps, destroyed, history):
    """By save (-D) and by destroy: the last entry is the domid, stamped with
    dom0's monotonic clock a moment before the history was read."""
    domid, step = int(steps[destroyed]["domid"]), steps[history]
    sec, last = history_entries(step)[-1]
    assert last == domid and 0 <= step["monotonic"] - sec < 30, (sec, last, step)


def test_a_recent_domid_is_refused_by_xlpy_and_by_xl_alike(steps):
    """The restore of a save -D file right after the save: both exit 1 with
    libxl's reason, and each destroys the domain it made, which marks the
    domid again (the save's entry, xlpy's, xl's)."""
    domid = int(steps["sr-keep-before"]["domid"])
    ours, xl = steps["sr-keep-refused-xlpy"], steps["sr-keep-refused-xl"]
    assert (ours["rc"], xl["rc"]) == (1, 1)
    assert ours["stderr"].splitlines()[-1] == f"xlpy: cannot create 'lab-sr-pv': Domain {domid}:domain id recently used"
    assert f"Domain {domid}:domain id recently used" in xl["stderr"], xl["stderr"]
    marked = [sec for sec, entry in history_entries(steps["sr-keep-history-refused"]) if entry == domid]
    assert len(marked) == 3 and marked == sorted(marked), marked


def test_xlpy_reads_the_entry_xl_s_destroy_left(steps):
    """xl save destroyed its guest: xlpy finds that domid recent, and another not."""
    ok(steps["sr-from-xl-save"])
    recent = ok(steps["sr-from-xl-recent"])
    assert int(recent["argv"][-2]) in {domid for _, domid in history_entries(steps["sr-from-xl-history"])}
    assert recent["stdout"].split() == ["1", "0"]


def test_hvm_guests_get_the_keyboard_qemu_serves_as_xl_gives_it(steps):
    """vkb_device's default: the vkbd nodes libxl writes, the same (but for
    the domid) for xlpy's guest as for xl's; vkb_device=0 leaves them out."""
    trees = {}
    for tool in ("xlpy", "xl"):
        domid = held_json(steps[f"pod-{tool}-created"])["domid"]
        trees[tool] = [xenstore_tree(masked_domid(part, domid))
                       for part in steps[f"pod-{tool}-vkb"]["stdout"].split("===\n")]
    assert trees["xlpy"] == trees["xl"], trees
    assert trees["xl"][0] and trees["xl"][1], trees  # frontend and backend are there
    ok(steps["novkb-create"])
    assert "vkbd" not in steps["novkb-vkb"]["stdout"], steps["novkb-vkb"]["stdout"]
    assert steps["novkb-gone"]["gone"]


# -- consoles and displays, as xl hands them over ------------------------------------------------

def test_create_c_attaches_the_console_before_the_guest_runs_and_lets_go_when_it_is_gone(steps):
    """xlpy create -c of a PVH guest that says its piece and powers off: the
    guest's whole life on standard output (xenconsole held the console
    before the guest ran), and create returns by itself once xlpy reaped the
    domain, as xl create -c of the same guest does."""
    outputs = {}
    for tool in ("xlpy", "xl"):
        step = ok(steps[f"console-{tool}-create-c"])
        out = step["stdout"].replace("\r", "")
        assert "XLPY_GUEST_ALIVE type=PVH" in out and "XLPY_GUEST_DONE" in out, (tool, step["stderr"], out[-2000:])
        assert steps[f"console-{tool}-gone"]["gone"], tool
        outputs[tool] = out
    # As much of the boot as xl's client saw from its start: the kernel's first line included, or not.
    assert ("Linux version" in outputs["xlpy"]) == ("Linux version" in outputs["xl"]), outputs["xl"][:2000]


def monitor_log(text: str) -> list[str]:
    """A monitor's log lines with the domids and pid taken out."""
    text = re.sub(r"\[pid \d+\]", "[pid P]", text)
    return re.sub(r"(domid |Domain )\d+", r"\1D", text).splitlines()


def test_create_leaves_a_monitoring_daemon_that_restarts_a_rebooting_guest_as_xl_s_does(steps):
    """No command is run between the guest's reboot and its restart: the
    daemon create left does it, from the config config-update left (xlpy's
    restarted guest is seen booting again), and logs it in
    /var/log/xen/xl-<name>.log line for line as xl's does; once the domain
    is destroyed, no daemon is left."""
    logs = {}
    assert steps["daemon-xlpy-restarted"]["alive_again"], steps["daemon-xlpy-restarted"]
    for tool in ("xlpy", "xl"):
        for step in ("create", "config-update", "unpause"):
            ok(steps[f"daemon-{tool}-{step}"])
        restarted = steps[f"daemon-{tool}-restarted"]
        assert restarted["second"] and restarted["second"] != restarted["first"], (tool, restarted)
        assert steps[f"daemon-{tool}-gone"]["gone"], tool
        logs[tool] = monitor_log(ok(steps[f"daemon-{tool}-log"])["stdout"].replace(f"lab-daemon-{tool}", "NAME"))
        assert ok(steps[f"daemon-{tool}-left"])["stdout"] == "", tool
    assert "Action for shutdown reason code 1 is restart" in logs["xlpy"], logs["xlpy"]
    assert logs["xlpy"] == logs["xl"]


def test_console_attaches_to_a_running_guest_as_xl_console_does(steps):
    """xlpy console puts xenconsole on the guest's PV console: the lines the
    guest writes while it is attached, until the client is told to stop."""
    for tool in ("xlpy", "xl"):
        step = steps[f"console-count-{tool}-console"]
        assert step["rc"] == 124, (tool, step)  # ended by timeout's SIGTERM, not by an error
        assert re.search(r"XLPY_COUNT \d+", step["stdout"]), (tool, step)
    assert steps["console-count-xlpy-console"]["stderr"] == steps["console-count-xl-console"]["stderr"]


def published(step: dict) -> dict:
    return json.loads(ok(step)["stdout"])


def test_an_hvm_guest_s_serial_pty_and_vnc_server_are_published_as_libxl_publishes_them(steps):
    """Once QEMU runs, each toolstack publishes the pty of serial="pty" and
    the VNC server's address where xl's clients read them; an RFB server
    answers there. xlpy's restore publishes its new QEMU's anew. (The VNC
    password is proven against the host's QEMU: Debian's qemu-system-xen
    has no DES and refuses one, under xl as under xlpy.)"""
    seen = {}
    for tool, step in (("xlpy", "hvm-time-xlpy-published"), ("xl", "hvm-time-xl-published"),
                       ("xlpy restored", "hvm-sr-published")):
        got = published(steps[step])
        nodes = got["nodes"]
        assert re.fullmatch(r"/dev/pts/\d+", nodes["serial/0/tty"] or ""), (tool, got)
        assert got["tty_is_terminal"], (tool, got)
        assert nodes["console/vnc-listen"] == "127.0.0.1" and nodes["console/vnc-pass"] is None, (tool, got)
        assert 5900 <= int(nodes["console/vnc-port"]) <= 5999, (tool, got)
        assert got["rfb"] == {"version": "RFB 003.008\n", "security": [1]}, (tool, got)  # 1: no authentication
        seen[tool] = {**nodes, "serial/0/tty": "/dev/pts/N", "console/vnc-port": "59NN"}
    assert seen["xlpy"] == seen["xl"] == seen["xlpy restored"]


def test_vncviewer_runs_the_viewer_xl_would_run(steps):
    """VNCVIEWER=echo shows the command each toolstack runs: the display from
    the published port; -a adds -autopass only where there is a password."""
    for tool in ("xlpy", "xl"):
        port = int(published(steps[f"hvm-time-{tool}-published"])["nodes"]["console/vnc-port"])
        assert ok(steps[f"hvm-time-{tool}-vncviewer"])["stdout"] == f"127.0.0.1:{port - 5900}\n", tool


def test_create_c_of_an_hvm_guest_is_its_serial_console_from_the_first_line(steps):
    """An HVM guest's primary console is its first serial port: with
    serial="pty" and console=ttyS0, create -c shows the kernel from its
    first line (QEMU's pty keeps nothing for a client that comes late), for
    xlpy as for xl. Only the beginning is judged: under emulation these
    guests have triple-faulted mid-boot, writing to the serial port (Xen's
    log shows it), under xl as under xlpy; the client then lets go early.
    One that died before its kernel (in SeaBIOS) is created once more."""
    for tool in ("xlpy", "xl"):
        out = ok(steps[f"hvm-serial-{tool}-create-c"])["stdout"].replace("\r", "")
        assert out.startswith("[    0.000000] Linux version"), (tool, out[:500])


def test_an_hvm_guest_below_its_maxmem_is_saved_and_restored(steps):
    """The populate-on-demand guest, with its vif and the vif's emulated twin:
    saved and restored by xlpy, with the same memory target and limit, its
    vif and tap bridged again; its shutdown afterwards (through its PV
    drivers) is judged by the shutdown test."""
    before, after = held_json(steps["hvm-pod-held"]), held_json(steps["hvm-pod-restored-held"])
    ok(steps["hvm-pod-save"]), ok(steps["hvm-pod-restore"])
    assert after["memory"] == before["memory"] and after["max_kb"] == before["max_kb"], (before, after)
    assert after["tot_kb"] <= before["max_kb"], (before, after)
    ports = ok(steps["hvm-pod-restored-bridge-ports"])["stdout"].split()
    domid = after["domid"]
    assert f"vif{domid}.0" in ports and f"vif{domid}.0-emu" in ports, ports
