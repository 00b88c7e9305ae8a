// Preloaded (--import) into a relay for the overhead scenario's allocation phase (issue 13): the
// bytes its JavaScript heap allocates between two SIGUSR2s. Each signal runs a full GC first, so
// the window holds exactly what was allocated in it: the sum, over the GCs in the window, of the
// heap's size before each one minus its size after the one before. Written to BENCH_ALLOC_REPORT
// as JSON at the second signal. Counting allocation this way does not depend on the machine's
// speed: the same build under the same requests reads the same to within a fraction of a percent.
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
v8.setFlagsFromString('--no-expose-gc');
let profiler;
let startSize = 0;

process.on('SIGUSR2', () => {
  gc();
  if (profiler === undefined) {
    startSize = v8.getHeapStatistics().used_heap_size;
    profiler = new v8.GCProfiler();
    profiler.start();
    return;
  }
  gc();
  const { statistics } = profiler.stop();
  profiler = undefined;
  let allocatedBytes = 0;
  let after = startSize;
  for (const { beforeGC, afterGC } of statistics) {
    allocatedBytes += beforeGC.heapStatistics.usedHeapSize - after;
    after = afterGC.heapStatistics.usedHeapSize;
  }
  writeFileSync(process.env.BENCH_ALLOC_REPORT, JSON.stringify({ allocatedBytes, gcs: statistics.length }));
});
