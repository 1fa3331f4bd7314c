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
