/** What the report says about the machine: CPU, cores, last-level cache. */
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';

/** Size in bytes parsed from sysfs' "32768K" / "1M" notation. */
function parseSize(text) {
  const m = /^(\d+)\s*([KMG]?)/i.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()];
}

/**
 * The last-level cache of CPU 0 as `{ bytes, level, source }`, read from Linux sysfs; 32 MiB
 * (source 'assumed') where sysfs does not say.
 */
export function lastLevelCache() {
  const dir = '/sys/devices/system/cpu/cpu0/cache';
  try {
    let best;
    for (const entry of readdirSync(dir).filter((e) => e.startsWith('index'))) {
      const read = (f) => readFileSync(`${dir}/${entry}/${f}`, 'utf8').trim();
      if (read('type') === 'Instruction') continue;
      const level = Number(read('level'));
      const bytes = parseSize(read('size'));
      if (bytes && (!best || level > best.level)) best = { bytes, level, source: 'sysfs' };
    }
    if (best) return best;
  } catch {
    // not Linux, or no sysfs: fall through
  }
  return { bytes: 32 * 1024 ** 2, level: 3, source: 'assumed' };
}

/** The CPU model as the OS reports it (os.cpus() is more specific than the addon on some VMs). */
export function cpuModel(fallback) {
  const model = os.cpus()[0]?.model?.trim();
  return model || fallback || 'unknown';
}

/** Logical cores this process may use. */
export function cores() {
  return os.availableParallelism?.() ?? os.cpus().length;
}

/** Busy and stolen CPU-seconds of the whole machine since boot (Linux /proc/stat), or undefined. */
function machineCpuSeconds() {
  try {
    const [user, nice, system, , , irq, softirq, steal = 0] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const hz = 100; // USER_HZ: the unit of /proc/stat on Linux
    return { busy: (user + nice + system + irq + softirq) / hz, steal: steal / hz };
  } catch {
    return undefined;
  }
}

/** CPU-seconds this process has used (all its threads, the addon's pool included). */
function ownCpuSeconds() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * Starts measuring how much of the machine other processes use. The returned function, called at
 * the end of a phase with the CPU-seconds of any child that ran in it, gives `{ seconds, other,
 * steal, load }`: the phase's wall time, the share of the machine's CPU time (cores × wall) that
 * other processes took, the share the hypervisor stole, and their sum. Undefined where /proc/stat
 * is missing. torch_peer.py measures its cases the same way.
 */
export function contentionMeter() {
  const start = { cpu: machineCpuSeconds(), own: ownCpuSeconds(), wall: performance.now() };
  return (childSeconds = 0) => {
    const cpu = machineCpuSeconds();
    if (!cpu || !start.cpu) return undefined;
    const seconds = (performance.now() - start.wall) / 1000;
    const capacity = seconds * cores();
    const other = cpu.busy - start.cpu.busy - (ownCpuSeconds() - start.own) - childSeconds;
    const shares = { other: Math.max(0, other) / capacity, steal: (cpu.steal - start.cpu.steal) / capacity };
    return { seconds, ...shares, load: shares.other + shares.steal };
  };
}
