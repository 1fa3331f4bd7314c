/**
 * Runs `work` for every item of an (async) iterable with at most `limit` running at once, reading
 * the source only as fast as work completes, so memory stays bounded for any number of items.
 * The first failure stops reading and is thrown after running work has settled.
 */
export async function forEachConcurrent<T>(
  items: AsyncIterable<T> | Iterable<T>,
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  for await (const item of items) {
    if (failure !== undefined) break;
    const task = work(item).then(
      () => undefined,
      (error: unknown) => {
        failure ??= { error };
      },
    );
    running.add(task);
    void task.finally(() => running.delete(task));
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure !== undefined) throw failure.error;
}
