#!/bin/bash
# Part of vm/setup.sh (optional: only suites that `// @needs pacemaker` use it): Debian bookworm's
# Pacemaker for the GUEST, never installed on the host. Like vm/cluster-pkgs.sh (whose tree,
# corosync and its libraries, a guest installs first): the packages below and the libraries they
# need that neither the host nor that tree has, extracted into $PCMK_ROOT (= $CACHE/pacemaker-root)
# by vm/guest-pkgs.sh, with their own stamp (the corosync tree's cache stays valid); ldd checks
# pacemakerd, its daemons and the CLI tools against this tree, the corosync tree, then the host.
set -euo pipefail
. "$(dirname "$0")/common.sh"
export DEBIAN_FRONTEND=noninteractive
PCMK_ROOT=$CACHE/pacemaker-root
# pacemaker (daemons), its CLI (crm_mon, crm_attribute, cibadmin, stonith_admin, crm_resource),
# ocf:pacemaker:* and ocf:heartbeat:* (Filesystem, ocf-tester), xmllint (ocf-tester validates meta-data)
TOP=(pacemaker pacemaker-cli-utils pacemaker-resource-agents resource-agents libxml2-utils)
# maintainer-script-only dependencies, and what the corosync tree already has
SKIP=" init-system-helpers adduser lsb-base sysvinit-utils xsltproc debconf kmod systemd corosync
  libknet1 libnozzle1 libqb100 libcorosync-common4 libcpg4 libquorum5 libcmap4 libcfg7 libvotequorum8
  libstatgrab10 cluster-glue libstonith1 "
BINS=(usr/sbin/pacemakerd usr/lib/pacemaker/pacemaker-based usr/lib/pacemaker/pacemaker-fenced
      usr/lib/pacemaker/pacemaker-execd usr/lib/pacemaker/pacemaker-attrd
      usr/lib/pacemaker/pacemaker-schedulerd usr/lib/pacemaker/pacemaker-controld
      usr/sbin/crm_mon usr/sbin/crm_attribute usr/sbin/cibadmin usr/sbin/stonith_admin
      usr/sbin/crm_resource usr/sbin/crm_node)
[ -x "$CLUSTER_ROOT/usr/sbin/corosync" ] || "$VMDIR/cluster-pkgs.sh"
. "$VMDIR/guest-pkgs.sh"
guest_pkgs pacemaker "$PCMK_ROOT" pacemaker "$CLUSTER_ROOT/usr/lib/x86_64-linux-gnu"
