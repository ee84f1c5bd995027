#!/bin/sh
# The "anchor" of one lab host. The lab starts it as
#   unshare --mount --uts --propagation slave -- nsenter --net=/run/netns/NAME-hN -- sh host-anchor.sh ...
# so it runs in a fresh mount and UTS namespace and in the host's network namespace. It makes the
# mounts that turn those namespaces into a "host", prints "ready", and then sleeps for ever: weftd,
# dockerd and `lab exec` commands join its namespaces with `nsenter -t PID -m -n -u`.
# The same technique as test/helpers/dockerd-anchor.sh (the e2e harness), plus a private
# /run/netns and a host name. Mounts are made under `--propagation slave`: nothing made here leaks
# out to the machine, and everything goes away with the namespace.
#
# Arguments (absolute paths made by the lab, never user input):
#   $1  the host's dir      $2  the host's plugin dir (shown at /run/docker/plugins)
#   $3  the host's netns dir (shown at /run/netns)    $4  the host name (h1...)
set -eu

dir=$1
plugins=$2
netns=$3
name=$4
for p in "$dir" "$plugins" "$netns"; do
  case "$p" in /*) ;; *) echo "host-anchor: path must be absolute: $p" >&2; exit 2 ;; esac
done
case "$name" in h[0-9]|h[0-9][0-9]) ;; *) echo "host-anchor: bad host name: $name" >&2; exit 2 ;; esac

# 1. The host's own name (UTS namespace): `hostname` and weftd's host record say h1, h2...
printf '%s\n' "$name" > /proc/sys/kernel/hostname

# 2. A /sys for this network namespace (sysfs shows the interfaces of whoever mounts it). Remounting
#    /sys alone would lose the cgroup tree below it (dockerd: "Devices cgroup isn't mounted"), so
#    hold the cgroup tree aside and move it back on top.
mkdir -p "$dir/mnt/cgroup-hold"
mount --rbind /sys/fs/cgroup "$dir/mnt/cgroup-hold"
umount -l /sys
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount --move "$dir/mnt/cgroup-hold" /sys/fs/cgroup
rmdir "$dir/mnt/cgroup-hold"

# 3. Private /run/netns: `lab exec h1 -- ip netns add c1` makes h1's own c1, which weftd on h1 finds
#    at /run/netns/c1, and which cannot clash with a c1 on h2 or on the machine.
mkdir -p /run/netns "$netns"
mount --bind "$netns" /run/netns

# 4. Private copies of the paths dockerd and containerd hard-code. The mount points must exist on
#    the shared root file system; they are left there, empty (removing one would detach the mounts
#    that another running host holds on it).
mkdir -p /run/docker /run/containerd /etc/docker
mkdir -p "$dir/mnt/run-docker" "$dir/mnt/run-containerd" "$dir/mnt/etc-docker"
mount --bind "$dir/mnt/run-docker" /run/docker
mkdir -p /run/docker/plugins
mount --bind "$plugins" /run/docker/plugins
mount --bind "$dir/mnt/run-containerd" /run/containerd
mount --bind "$dir/mnt/etc-docker" /etc/docker

echo ready
exec sleep infinity
