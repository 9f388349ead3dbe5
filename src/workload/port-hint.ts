// What to tell a user whose capture holds no memcached requests on the ports they chose (11211 by
// default): the ports that the capture's connections did open to, from the SYNs the chosen ports
// left out, so the message names the --port that would work instead of only "check --port".
import type { CaptureStats } from '../capture/types.js';

/** Most ports the hint names. */
const HINT_PORTS = 3;

/** The sentence after "no memcached requests on port(s) …": which ports to try, or how to find them. */
export function portHint(stats: Pick<CaptureStats, 'otherSynPorts' | 'notServerPort'> | null | undefined, anyPort: boolean): string {
  const ports = Object.entries(stats?.otherSynPorts ?? {})
    .map(([p, n]) => [Number(p), n] as const)
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, HINT_PORTS);
  if (ports.length > 0) {
    const list = ports.map(([p, n]) => `${p} (${n} connection${n === 1 ? '' : 's'})`).join(', ');
    return `the capture's connections were opened to port ${list}: try --port ${ports.map(([p]) => p).join(',')}${anyPort ? '' : ', or --any-port'}`;
  }
  if (!anyPort && (stats?.notServerPort ?? 0) > 0) return `${stats!.notServerPort} packets went to other ports: try --any-port, or mcreplay inspect --any-port to see the servers`;
  return 'check --port; mcreplay inspect --any-port shows what the capture holds';
}
