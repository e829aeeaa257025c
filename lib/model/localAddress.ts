// Is the local node's address an address of this host? The kernel refuses `local` = 1 otherwise
// (EADDRNOTAVAIL: o2net cannot listen there), so plan and doctor say it before anything is written.
// Pure: the host's addresses come in (lib/stack reads them from the interfaces).
import type { ClusterConfig } from './cluster.js';

export interface LocalAddressProblem {
  node: string;
  address: string;
  message: string;
  fix: string;
}

export function localAddressProblem(cluster: ClusterConfig, localNode: string, hostAddresses: readonly string[], configFile = 'cluster.conf'): LocalAddressProblem | undefined {
  const n = cluster.nodes.find((x) => x.name === localNode);
  if (!n || hostAddresses.includes(n.ipAddress)) return undefined;
  const others = cluster.nodes.filter((x) => x.name !== localNode && hostAddresses.includes(x.ipAddress)).map((x) => x.name);
  return {
    node: n.name,
    address: n.ipAddress,
    message: `the local node '${n.name}' has address ${n.ipAddress}, which is not an address of this host (it has: ${hostAddresses.join(', ') || 'none'}): the kernel will refuse to make it local (EADDRNOTAVAIL)`,
    fix: [
      `give '${n.name}' this host's cluster address in ${configFile} (o2stack o2cb remove-node ${cluster.name} ${n.name}; o2stack o2cb add-node ${cluster.name} ${n.name} --ip ADDRESS --number ${n.number})`,
      `or add ${n.ipAddress} to the cluster interface (ip addr add ${n.ipAddress}/PREFIX dev IFACE)`,
      others.length ? `or, if this machine is ${others.join(' or ')}, pass --node ${others[0]}` : '',
    ]
      .filter(Boolean)
      .join(', '),
  };
}
