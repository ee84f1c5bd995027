#!/bin/sh
# The "anchor" of a test dockerd (see dockerd.ts). It runs already inside a fresh mount namespace
# (unshare --mount --propagation slave) and inside the test's network namespace (nsenter --net),
# prepares the mounts that dockerd needs there, prints "ready" and then sleeps for ever, holding the
# two namespaces so that dockerd, weftd and tests can join them later with `nsenter -t PID -m -n`.
#
# Arguments (absolute paths made by dockerd.ts, never user input):
#   $1  the handle's temp dir (private /run/docker, /run/containerd and /etc/docker live under it)
#   $2  the plugin dir to show at /run/docker/plugins
set -eu

tmp=$1
plugins=$2
case "$tmp" in /*) ;; *) echo "anchor: temp dir must be absolute: $tmp" >&2; exit 2 ;; esac
case "$plugins" in /*) ;; *) echo "anchor: plugin dir must be absolute: $plugins" >&2; exit 2 ;; esac

# 1. A /sys that belongs to this network namespace. sysfs shows the interfaces of the namespace of
#    whoever mounts it, and the inherited /sys shows the host's. Remounting /sys alone (what
#    `ip netns exec` does) loses the cgroup tree under it, and dockerd then fails with
#    "Devices cgroup isn't mounted"; so hold the cgroup tree aside and move it back on top.
mkdir -p "$tmp/cgroup-hold"
mount --rbind /sys/fs/cgroup "$tmp/cgroup-hold"
umount -l /sys
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount --move "$tmp/cgroup-hold" /sys/fs/cgroup
rmdir "$tmp/cgroup-hold"

# 2. Private copies of the paths dockerd and containerd hard-code. The mount points must exist on
#    the shared root file system; they are left there empty (removing a mount point would detach
#    the mounts that another running test dockerd holds on it).
mkdir -p /run/docker /run/containerd /etc/docker
mkdir -p "$tmp/run-docker" "$tmp/run-containerd" "$tmp/etc-docker"
# libnetwork and the legacy plugin registry use /run/docker/...
mount --bind "$tmp/run-docker" /run/docker
mkdir -p /run/docker/plugins
mount --bind "$plugins" /run/docker/plugins
# containerd-shim-runc-v2 puts its sockets under /run/containerd/s
mount --bind "$tmp/run-containerd" /run/containerd
# dockerd writes /etc/docker/key.json and reads /etc/docker/daemon.json and certs.d
mount --bind "$tmp/etc-docker" /etc/docker

echo ready
exec sleep infinity
