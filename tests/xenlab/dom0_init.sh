#!/bin/sh
# PID 1 of the lab's dom0: bring up the Xen services a toolstack needs, run
# the scenario from the host share, leave the results there, power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
mark() { echo "@@XLPY-LAB $*"; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /run /tmp
mount -t devpts devpts /dev/pts
# What udev would add to a devtmpfs /dev: the hotplug scripts' locking stats /dev/stdin.
ln -sf /proc/self/fd /dev/fd; ln -sf fd/0 /dev/stdin; ln -sf fd/1 /dev/stdout; ln -sf fd/2 /dev/stderr
mount -t tmpfs tmpfs /run
mkdir -p /run/lock  # systemd-tmpfiles' on Debian; /var/lock points there, xenconsole locks in it
mount -t tmpfs tmpfs /tmp
# Guest cores (on_crash=coredump-*): the root filesystem has too little room left for one.
mkdir -p /var/lib/xen/dump && mount -t tmpfs tmpfs /var/lib/xen/dump
for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback xen-netback bridge loop virtio_pci \
        9pnet_virtio 9p; do
    modprobe $m || mark "modprobe $m failed"
done
for m in /xlpy-modules/*.ko; do insmod $m || mark "insmod $m failed"; done
ip link set lo up  # QEMU's VNC server listens on 127.0.0.1
# The bridge vifs join by default, with an address the guests ping.
{ ip link add name xenbr0 type bridge stp_state 0 forward_delay 0 && ip address add 10.0.0.1/24 dev xenbr0 \
    && ip link set xenbr0 up; } || mark "no bridge xenbr0"
mount -t xenfs xenfs /proc/xen
mkdir -p /run/xenstored /var/run/xen /var/log/xen/console /var/lib/xen
XENSTORED_ROOTDIR=/run/xenstored xenstored --pid-file /run/xenstore.pid
for i in 1 2 3 4 5 6 7 8 9 10; do [ -S /run/xenstored/socket ] && break; sleep 0.5; done
xen-init-dom0 >/dev/null || mark "xen-init-dom0 failed"
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
mkdir -p /mnt/host
sleep 1
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host0 /mnt/host; then
    mark "dom0 ready"
    cp -a /mnt/host/site /opt/xlpy-site
    HOME=/tmp PYTHONPATH=/opt/xlpy-site python3 /mnt/host/scenario.py /mnt/host/results.json \
        > /mnt/host/scenario.log 2>&1
    mark "scenario finished rc=$?"
else
    mark "no host share: nothing to run"
fi
sync
poweroff -f
