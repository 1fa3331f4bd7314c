/**
 * Ends this process, through its usual SIGTERM shutdown, when the process that started it with
 * an IPC channel is gone (`s3relay dev` starts its services that way), however that one ended:
 * the kernel closes the channel's socket even when the parent is SIGKILLed, and Node then emits
 * `disconnect` at once. Polling `process.ppid` would notice only on its next tick, and watching
 * stdin for EOF would take stdin away from a service that is otherwise started like in production.
 * Without a channel (a terminal, systemd, Kubernetes) this does nothing.
 */
export function exitWithParent(): void {
  const channel = process.channel;
  if (channel === undefined) return;
  // The channel carries no messages; it must not keep an otherwise finished process alive.
  channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
