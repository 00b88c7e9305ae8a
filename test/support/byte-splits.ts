/** Cuts `bytes` at `positions` (any order, repeats allowed: an empty chunk is a chunk too). */
export function split(bytes: Buffer, positions: number[]): Buffer[] {
  const cuts = positions.map((p) => p % (bytes.length + 1)).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    chunks.push(bytes.subarray(start, cut));
    start = cut;
  }
  return chunks;
}
