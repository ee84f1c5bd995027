#!/usr/bin/env bash
# Provisions the etcd VM: Debian's etcd-server as a one-member cluster listening on the private
# network, with the lab's short timers (heartbeat 250 ms, election 2.5 s). Idempotent.
#
# Environment (set by the Vagrantfile):
#   WEFT_ETCD_NAME   member name (etcd)       WEFT_ETCD_IP   its private-network address
set -euo pipefail

: "${WEFT_ETCD_NAME:?set by the Vagrantfile}" "${WEFT_ETCD_IP:?set by the Vagrantfile}"
[[ $WEFT_ETCD_NAME =~ ^[a-z][a-z0-9-]*$ ]] || { echo "etcd.sh: bad name $WEFT_ETCD_NAME" >&2; exit 2; }
[[ $WEFT_ETCD_IP =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || { echo "etcd.sh: bad address $WEFT_ETCD_IP" >&2; exit 2; }

export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends etcd-server etcd-client

# Debian's unit (etcd.service) reads /etc/default/etcd. The package started etcd on localhost with
# the name "default"; on the first provisioning drop that data, so the member is born with its
# real name and URLs.
conf=/etc/default/etcd
marker=/var/lib/weft-provision/etcd-configured
cat > "$conf.new" <<CONF
# Written by weft scripts/vagrant/etcd.sh
ETCD_NAME=$WEFT_ETCD_NAME
ETCD_DATA_DIR=/var/lib/etcd/weft
ETCD_LISTEN_CLIENT_URLS=http://$WEFT_ETCD_IP:2379,http://127.0.0.1:2379
ETCD_ADVERTISE_CLIENT_URLS=http://$WEFT_ETCD_IP:2379
ETCD_LISTEN_PEER_URLS=http://$WEFT_ETCD_IP:2380
ETCD_INITIAL_ADVERTISE_PEER_URLS=http://$WEFT_ETCD_IP:2380
ETCD_INITIAL_CLUSTER=$WEFT_ETCD_NAME=http://$WEFT_ETCD_IP:2380
ETCD_INITIAL_CLUSTER_STATE=new
ETCD_INITIAL_CLUSTER_TOKEN=weft-vagrant
ETCD_HEARTBEAT_INTERVAL=250
ETCD_ELECTION_TIMEOUT=2500
CONF
if [ ! -e "$marker" ] || ! cmp -s "$conf.new" "$conf"; then
  systemctl stop etcd || true
  mv "$conf.new" "$conf"
  [ -e "$marker" ] || rm -rf /var/lib/etcd/weft
  mkdir -p /var/lib/weft-provision
  touch "$marker"
else
  rm -f "$conf.new"
fi
systemctl enable etcd
systemctl restart etcd

for _ in $(seq 1 60); do
  if curl -fsS "http://$WEFT_ETCD_IP:2379/health" | grep -q '"health":"true"'; then
    echo "etcd: $WEFT_ETCD_NAME healthy at http://$WEFT_ETCD_IP:2379"
    exit 0
  fi
  sleep 1
done
echo "etcd: not healthy after 60 s" >&2
journalctl -u etcd --no-pager -n 50 >&2 || true
exit 1
