// The network interfaces of the calling thread's network namespace. /proc/thread-self/net is
// per thread, so this follows inNetns() where /sys/class/net (the namespace sysfs was mounted
// in) would not.
import { readFileSync } from 'node:fs';

export function listInterfaces(): string[] {
  return readFileSync('/proc/thread-self/net/dev', 'utf8')
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]!.trim())
    .filter(Boolean);
}
