#!/usr/bin/env bash
# Provisioning shared by every VM of the Vagrantfile (docs/lab.md): the nodes know each other by
# name, and the tools weft and the lab's checks use are installed. Idempotent.
#
# Environment (set by the Vagrantfile):
#   WEFT_HOSTS_LINES   "IP NAME" lines of every node, for /etc/hosts
set -euo pipefail

: "${WEFT_HOSTS_LINES:?set by the Vagrantfile}"

# /etc/hosts: replace our block, keep everything else.
# (The markers are sed addresses: keep regex metacharacters out of them.)
begin='# BEGIN weft lab nodes'
end='# END weft lab nodes'
tmp=$(mktemp)
sed "/^${begin}\$/,/^${end}\$/d" /etc/hosts > "$tmp"
{ cat "$tmp"; echo "$begin"; printf '%s\n' "$WEFT_HOSTS_LINES"; echo "$end"; } > /etc/hosts
rm -f "$tmp"

export DEBIAN_FRONTEND=noninteractive
if [ ! -e /var/lib/weft-provision/apt-updated ]; then
  apt-get update -q
  mkdir -p /var/lib/weft-provision
  touch /var/lib/weft-provision/apt-updated
fi
apt-get install -y -q --no-install-recommends \
  ca-certificates curl gnupg iproute2 iputils-ping nftables conntrack tcpdump

echo "common: $(hostname) ready"
