/** Runs `fn` over `items` with at most `concurrency` at once; rejects with the first failure. */
export async function forEachPooled<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      await fn(items[index] as T, index);
    }
  });
  await Promise.all(lanes);
}
