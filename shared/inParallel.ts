/**
 * Runs `run` over `items` with at most `concurrency` (default 8) at a time, each
 * worker taking the next item when it is done: a bounded pool, so a large batch
 * neither runs one by one nor floods the table with requests.
 */
export async function inParallel<T>(
  items: readonly T[],
  concurrency: number | undefined,
  run: (item: T) => Promise<void>,
): Promise<void> {
  const queue = [...items];
  const workers = Math.max(1, Math.min(concurrency ?? 8, queue.length));
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await run(item);
    }),
  );
}
