#!/bin/sh
# PID 1 of the lab's guests: say what the guest sees, then stay until the
# toolstack asks it to power off (xlpy.stay on the command line) or stop.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# sse3: whether CPUID offers SSE3 ("pni"), which a cpuid= policy can take away;
# epoch: the guest's wall clock, which rtc_timeoffset moves.
echo "=== XLPY_GUEST_ALIVE type=$(cat /sys/hypervisor/guest_type 2>/dev/null) cpus=$(grep -c ^processor /proc/cpuinfo) sse3=$(grep -m 1 ^flags /proc/cpuinfo | grep -cw pni) epoch=$(date +%s) $(head -n 1 /proc/meminfo | tr -s ' ')"
# xlpy.crash: panic the kernel, which a Xen guest reports as a crash.
case "$(cat /proc/cmdline)" in
    *xlpy.crash*) echo "=== XLPY_GUEST_CRASHING"; echo c > /proc/sysrq-trigger ;;
esac
# xlpy.disk: the first 16 bytes of the PV disk xvda (xen-blkfront), which the
# toolstack plugged through blkback and the block script.
case "$(cat /proc/cmdline)" in
    *xlpy.disk*)
        mount -t devtmpfs devtmpfs /dev
        insmod /xen-blkfront.ko
        for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do [ -b /dev/xvda ] && break; sleep 0.5; done
        echo "=== XLPY_DISK $(head -c 16 /dev/xvda 2>&1)" ;;
esac
# xlpy.net=<address>: the PV network interface eth0 (xen-netfront) on the
# toolstack's vif, given the address, pinging dom0's bridge 10.0.0.1.
for word in $(cat /proc/cmdline); do
    case "$word" in
        xlpy.net=*)
            address=${word#xlpy.net=}
            insmod /xen-netfront.ko
            for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do [ -e /sys/class/net/eth0 ] && break; sleep 0.5; done
            ifconfig eth0 "$address" netmask 255.255.255.0 up
            answered=no
            for i in 1 2 3 4 5 6 7 8 9 10; do ping -c 1 -W 2 10.0.0.1 >/dev/null 2>&1 && answered=yes && break; done
            echo "=== XLPY_NET address=$address mac=$(cat /sys/class/net/eth0/address 2>&1) ping=$answered" ;;
    esac
done
# A Xen shutdown request runs /sbin/poweroff, which signals PID 1.
trap 'echo "=== XLPY_GUEST_SHUTDOWN_REQUESTED"; poweroff -f' USR2 TERM
# xlpy.count: a line a second, numbered from 0, until asked to stop: a guest
# that is saved and restored carries on counting where it was.
case "$(cat /proc/cmdline)" in
    *xlpy.count*) n=0; while :; do echo "=== XLPY_COUNT $n"; n=$((n + 1)); sleep 1; done ;;
    *xlpy.stay*) sleep 3600 & wait ;;
esac
echo "=== XLPY_GUEST_DONE"
# xlpy.reboot: the guest ends by rebooting, which the toolstack's monitor acts on.
case "$(cat /proc/cmdline)" in
    *xlpy.reboot*) reboot -f ;;
esac
poweroff -f
