import { readFile, readdir } from 'node:fs/promises';

/** State and parent of a process from /proc (Linux), or undefined when there is no such pid. */
async function procStat(pid: number): Promise<{ state: string; ppid: number } | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid …"; comm may itself hold spaces and parentheses.
  const [state = '', ppid = ''] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state, ppid: Number(ppid) };
}

/** The pids whose parent is `pid`. */
export async function childPids(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if ((await procStat(Number(entry)))?.ppid === pid) children.push(Number(entry));
  }
  return children;
}

/**
 * True while the process runs. One that has exited but was not reaped yet (a zombie: the
 * machine's init may never reap orphans) holds no ports or files any more and counts as gone.
 */
export async function isRunning(pid: number): Promise<boolean> {
  const stat = await procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** The command line of a running process, its arguments joined by spaces ('' when gone). */
export async function commandLine(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/**
 * CPU time (user + system) a running process has used so far, in milliseconds, from
 * /proc/<pid>/stat. Unlike durations, it hardly grows when other processes keep the machine busy.
 */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after "pid (comm) ": state is the 1st, utime the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** `getconf CLK_TCK` on Linux on every architecture Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;
