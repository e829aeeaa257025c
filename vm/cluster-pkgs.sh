#!/bin/bash
# Part of vm/setup.sh: Debian bookworm's corosync and dlm-controld for the GUEST, never installed
# on the host: the packages below and the libraries they need that the host lacks (the guest's
# root is the host's root, so the host's libraries are there), extracted into $CLUSTER_ROOT
# (= $CACHE/cluster-root) by vm/guest-pkgs.sh. A guest copies that tree over its throwaway root
# with vm/guest-cluster.sh install. Does nothing when the tree is there for the same package list.
set -euo pipefail
. "$(dirname "$0")/common.sh"
export DEBIAN_FRONTEND=noninteractive
# the daemons and tools, and the corosync client libraries (also what the addon links)
TOP=(corosync dlm-controld libknet1 libnozzle1 libqb100 libcorosync-common4 libcpg4 libquorum5 libcmap4
     libcfg7 libvotequorum8 libstatgrab10 libdlm3 libdlmcontrol3)
# dependencies that only maintainer scripts use (the guest never runs those)
SKIP=" init-system-helpers adduser lsb-base sysvinit-utils xsltproc debconf kmod systemd "
# binaries that must load in the guest
BINS=(usr/sbin/corosync usr/sbin/dlm_controld usr/sbin/dlm_tool usr/sbin/corosync-quorumtool
      usr/sbin/corosync-cmapctl usr/sbin/corosync-cfgtool usr/sbin/corosync-cpgtool)
. "$VMDIR/guest-pkgs.sh"
guest_pkgs cluster "$CLUSTER_ROOT" "corosync + dlm_controld"
