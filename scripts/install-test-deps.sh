#!/usr/bin/env bash
# Installs the Debian packages that weft's integration and e2e tests use (docs/testing.md).
# Idempotent: when every package is already installed it touches nothing, not even `apt-get update`.
#
#   docker.io, containerd, runc, tini   the real Docker Engine 20.10 the e2e harness starts
#                                       (test/helpers/dockerd.ts); tini is dockerd's docker-init
#   iptables                            Docker's bridge driver programs it (nft-based on Debian 12)
#   busybox-static                      the only binary of the test image (test/helpers/busybox-image.ts);
#                                       the dynamic `busybox` package would not run in an empty image
#   iproute2, nftables, conntrack       what weft itself drives
#   iperf3                              throughput checks
#   ethtool                             the overlay's transmit-checksum self-test (src/sys/checksum-selftest.ts)
#   etcd-server                         the cluster store for multi-host tests
#   util-linux, tar                     unshare, nsenter, setpriv; the image tarball (essential, listed for clarity)
#   procps                              sysctl inside test namespaces (src/sys/sysctl.ts NetnsSysctl)
#   openssl                             the test CA and client certificates for etcd over TLS
#   python3-minimal                     UDP broadcast/DF probes in the overlay lab test (busybox nc has no -u)
#   vagrant                             `vagrant validate` of the Vagrantfile (test/e2e/lab.test.ts); no provider
#   gcc, libc6-dev                      `npm run build` compiles the netns relay (native/netns-relay.c), which
#                                       test/integration/{netns-relay,sandbox-attach,relay-connect} need
#
# Services are never started by the install: dockerd or etcd running on the host's own network is
# exactly what the tests must not have, so a policy-rc.d that refuses service starts is put in
# place for the duration of the install when the machine has none.
set -euo pipefail

PACKAGES=(
  docker.io containerd runc tini iptables
  busybox-static
  iproute2 nftables conntrack iperf3 ethtool
  etcd-server
  util-linux tar procps python3-minimal openssl
  vagrant
  gcc libc6-dev
)

if [[ $(id -u) -ne 0 ]]; then
  echo "install-test-deps: must run as root (apt-get, and the tests themselves need root)" >&2
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
  [[ $status == ii* ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-test-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-test-deps: installing ${missing[*]}"
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, from weft scripts/install-test-deps.sh: start no services\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  cleanup() { if [[ $made_policy -eq 1 ]]; then rm -f "$policy"; fi; }
  trap cleanup EXIT
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# What the harness calls, by path: fail here with a clear message rather than in a test.
need=(/usr/sbin/dockerd /usr/bin/docker /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 /usr/sbin/runc
      /usr/bin/docker-init /bin/busybox /usr/sbin/iptables /usr/sbin/nft /usr/sbin/conntrack /usr/bin/iperf3
      /usr/bin/etcd /usr/bin/unshare /usr/bin/nsenter /usr/bin/setpriv /usr/bin/tar /usr/bin/vagrant
      /usr/sbin/sysctl /usr/bin/python3 /usr/bin/openssl /usr/sbin/ethtool /usr/bin/cc)
absent=()
for f in "${need[@]}"; do
  # usrmerge: /bin and /sbin may be links into /usr, so accept either spelling.
  [[ -x $f || -x ${f/#\/usr/} ]] || absent+=("$f")
done
if [[ ${#absent[@]} -gt 0 ]]; then
  echo "install-test-deps: still missing after install: ${absent[*]}" >&2
  exit 1
fi

echo "install-test-deps: ok"
