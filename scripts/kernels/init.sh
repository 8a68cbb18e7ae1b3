#!/bin/sh
# /init of the kernel-suite VMs: mount what the suite needs, load the modules, run the suite
# (spec/kernel/run.lua) with its output on the serial console, power off.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /tmp
echo 1 > /proc/sys/kernel/printk
ip link set lo up
for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m" || echo "@@KNOTE insmod $m failed"
done
cd /luabpf
echo "@@KBOOT $(uname -r)"
./luabpf spec/kernel/run.lua $(cat specs)
poweroff -f
