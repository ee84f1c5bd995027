#!/usr/bin/env bash
# Provisions one weft host VM (h1..h3 of the Vagrantfile): Node 20, Docker, weft built from the
# repository copy in /opt/weft, weftd as the systemd unit scripts/systemd/weftd.service with a
# drop-in pointing it at etcd and at this VM's private-network address, and a `busybox` image
# made from busybox-static (no registry). Idempotent: `vagrant provision h1` after a code change
# (and `vagrant rsync h1`) rebuilds and restarts weftd.
#
# Environment (set by the Vagrantfile):
#   WEFT_NODE_NAME  h1..   WEFT_NODE_IP  its private address   WEFT_ETCD_IP  the etcd VM's address
#   WEFT_VM_STORE   etcd://IP:2379 or local
set -euo pipefail

: "${WEFT_NODE_NAME:?}" "${WEFT_NODE_IP:?}" "${WEFT_ETCD_IP:?}" "${WEFT_VM_STORE:?}"
[[ $WEFT_NODE_NAME =~ ^h[0-9]+$ ]] || { echo "host.sh: bad host name $WEFT_NODE_NAME" >&2; exit 2; }
for ip in "$WEFT_NODE_IP" "$WEFT_ETCD_IP"; do
  [[ $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || { echo "host.sh: bad address $ip" >&2; exit 2; }
done
[[ $WEFT_VM_STORE == local || $WEFT_VM_STORE =~ ^etcd://[0-9.]+:[0-9]+$ ]] || { echo "host.sh: bad store $WEFT_VM_STORE" >&2; exit 2; }

REPO=/opt/weft
NODE_MAJOR=20
export DEBIAN_FRONTEND=noninteractive

# 1. Node.js 20. Debian 12 ships 18; weft needs >= 20 (package.json engines), so use NodeSource's
#    signed apt repository, the way its README documents.
if ! node --version 2>/dev/null | grep -Eq "^v(2[0-9]|[3-9][0-9])\."; then
  install -d -m 0755 /etc/apt/keyrings
  curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg
  echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_${NODE_MAJOR}.x nodistro main" \
    > /etc/apt/sources.list.d/nodesource.list
  apt-get update -q
  apt-get install -y -q nodejs
fi

# 2. Docker Engine from Debian (20.10, what weft's e2e tests run against) and the image's binary.
apt-get install -y -q --no-install-recommends docker.io containerd runc tini iptables busybox-static etcd-client
# The vagrant user may use docker and weft without sudo (the docker group is root-equivalent anyway).
usermod -aG docker vagrant

# 3. weft: dependencies, build, /usr/local/bin/weft and weftd (scripts/setup without starting weftd).
[ -f "$REPO/package.json" ] || { echo "host.sh: $REPO has no weft checkout (rsync synced folder)" >&2; exit 1; }
WEFT_SETUP_ONLY=1 bash "$REPO/scripts/setup"

# 4. weftd as a service, configured by environment variables (flags > env > file, src/daemon/config.ts).
install -m 0644 "$REPO/scripts/systemd/weftd.service" /etc/systemd/system/weftd.service
install -d -m 0755 /etc/systemd/system/weftd.service.d
cat > /etc/systemd/system/weftd.service.d/10-vagrant-lab.conf <<CONF
# Written by weft scripts/vagrant/host.sh
[Service]
Environment=WEFT_STORE=$WEFT_VM_STORE
Environment=WEFT_ADVERTISE_ADDR=$WEFT_NODE_IP
Environment=WEFT_HOST_ID=$WEFT_NODE_NAME
Environment=WEFT_SOCKET_GROUP=docker
CONF
systemctl daemon-reload

if [[ $WEFT_VM_STORE == etcd://* ]]; then
  echo "host: waiting for etcd at http://$WEFT_ETCD_IP:2379"
  for i in $(seq 1 120); do
    curl -fsS "http://$WEFT_ETCD_IP:2379/health" 2>/dev/null | grep -q '"health":"true"' && break
    [ "$i" -eq 120 ] && { echo "host.sh: etcd at $WEFT_ETCD_IP is not healthy (provision the etcd VM first)" >&2; exit 1; }
    sleep 1
  done
fi

systemctl enable weftd
systemctl restart weftd
for i in $(seq 1 60); do
  weft version >/dev/null 2>&1 && break
  if [ "$i" -eq 60 ]; then
    journalctl -u weftd --no-pager -n 40 >&2 || true
    echo "host.sh: weftd did not answer within 60 s" >&2
    exit 1
  fi
  sleep 1
done
# dockerd after weftd (the unit orders them): it asks its plugins about networks while it starts.
systemctl restart docker

# 5. The `busybox` image, as in the netns lab: busybox-static plus one symlink per applet.
if ! docker image inspect busybox >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  root=$tmp/rootfs
  mkdir -p "$root"/{bin,etc,proc,sys,dev,root,run,tmp}
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  while read -r applet; do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done < <(/bin/busybox --list)
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  tar --numeric-owner --owner=0 --group=0 -C "$root" -c . | docker import --change 'CMD ["sh"]' - busybox
fi

echo "host: $WEFT_NODE_NAME ready at $WEFT_NODE_IP (store $WEFT_VM_STORE): $(weft version | grep -m1 Version || true)"
