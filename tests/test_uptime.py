"""`xlpy uptime` in xl 4.17's formats (print_uptime, uptime_to_string):
Domain-0 from the host's uptime, each guest from the start time recorded
under /vm/<uuid> at build, which is also where the real xl reads it."""

from __future__ import annotations

import re

from xlpy.cli.show import _seconds_up, _uptime_text


def test_long_and_short_forms(xlpy):
    xlpy("create", "-q", "configs/pvh.cfg")
    lines = xlpy("uptime").stdout.splitlines()
    assert lines[0] == "%-33s %4s %s" % ("Name", "ID", "Uptime")  # xl's printf formats
    assert [line[:38] for line in lines[1:]] == ["%-33s %4d" % ("Domain-0", 0), "%-33s %4d" % ("demo-pvh", 1)]
    assert all(re.fullmatch(r" [ \d]\d:\d\d:\d\d", line[38:]) for line in lines[1:]), lines
    short = xlpy("uptime", "-s", "demo-pvh", "0").stdout.splitlines()  # in the order asked, no header
    assert re.fullmatch(r" \d\d:\d\d:\d\d up [ \d]\d:\d\d, demo-pvh \(1\)", short[0]), short
    assert short[1].endswith(", Domain-0 (0)") and len(short) == 2


def test_a_guest_without_a_recorded_start_is_left_out(xlpy):
    from xlpy.api import open as open_host

    xlpy("create", "-q", "configs/pvh.cfg")
    with open_host("model") as host:
        vm_path = host.toolstack.backend.xs_read("/local/domain/1/vm")
        assert re.fullmatch(r"\d+\.\d\d", host.toolstack.backend.xs_read(f"{vm_path}/start_time"))
        host.toolstack.backend.xs_rm(f"{vm_path}/start_time")  # as for a guest another toolstack made
    assert [line.split()[0] for line in xlpy("uptime").stdout.splitlines()[1:]] == ["Domain-0"]


def test_days_hours_minutes_as_xl_writes_them():
    assert _uptime_text(59, short=False) == " 0:00:59"
    assert _uptime_text(59, short=True) == " 0:00"
    assert _uptime_text(86400 + 3661, short=False) == "1 day,  1:01:01"
    assert _uptime_text(2 * 86400 + 36000, short=True) == "2 days, 10:00"


def test_domain0_uptime_is_whole_seconds_of_the_host_uptime():
    """xl truncates /proc/uptime; at 101.0 s after the epoch on a host up 79.15 s
    (booted at 21.85) that is 79, not the 80 of subtracting truncated ends."""
    assert _seconds_up(101.0, 101.0 - 79.15) == 79
    assert _seconds_up(101.0, 22) == 79  # a guest's start time is whole seconds, as xl's
