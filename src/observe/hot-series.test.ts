import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { HotCounter, HotGauge, HotHistogram } from './hot-series.ts';

const BUCKETS = [0.025, 0.1, 1, 2.5, 10];

/** Records the same observations in prom-client's classes and in the hot ones; both expositions. */
async function bothExpositions(): Promise<[string, string]> {
  const theirs = new Registry();
  const ours = new Registry();
  const counter = new Counter({
    name: 'c_total',
    help: 'c',
    labelNames: ['model', 'result', 'upstream'],
    registers: [theirs],
  });
  const hotCounter = new HotCounter({
    name: 'c_total',
    help: 'c',
    labelNames: ['model', 'result', 'upstream'],
    registry: ours,
  });
  const histogram = new Histogram({
    name: 'h_seconds',
    help: 'h',
    labelNames: ['model', 'outcome'],
    buckets: BUCKETS,
    registers: [theirs],
  });
  const hotHistogram = new HotHistogram({
    name: 'h_seconds',
    help: 'h',
    labelNames: ['model', 'outcome'],
    buckets: BUCKETS,
    registry: ours,
  });
  const one = new Histogram({
    name: 'one',
    help: 'one label',
    labelNames: ['model'],
    buckets: [1, 2, 3],
    registers: [theirs],
  });
  const hotOne = new HotHistogram({
    name: 'one',
    help: 'one label',
    labelNames: ['model'],
    buckets: [1, 2, 3],
    registry: ours,
  });
  const gauge = new Gauge({ name: 'g', help: 'in flight', labelNames: ['model'], registers: [theirs] });
  const hotGauge = new HotGauge({ name: 'g', help: 'in flight', labelNames: ['model'], registry: ours });
  const models = ['m"1', 'm\\2', 'other'];
  const values = [0, 0.025, 0.0251, 0.1, 0.5, 1, 2.5, 9.99, 10, 11, 1e6];
  for (let i = 0; i < 200; i++) {
    const model = models[i % 3] as string;
    const result = i % 7 === 0 ? 'model_not_found' : 'ok';
    const upstream = i % 11 === 0 ? 'direct' : 'gateway';
    counter.inc({ model, result, upstream });
    hotCounter.inc(model, result, upstream);
    const v = values[i % values.length] as number;
    const outcome = i % 5 === 0 ? 'retries_exhausted' : 'ok';
    histogram.observe({ model, outcome }, v);
    hotHistogram.observe(v, model, outcome);
    one.observe({ model }, (i % 4) + 0.5);
    hotOne.observe((i % 4) + 0.5, model);
    gauge.inc({ model });
    hotGauge.add(1, model);
    if (i % 3 !== 1) {
      gauge.dec({ model });
      hotGauge.add(-1, model);
    }
  }
  return [await theirs.metrics(), await ours.metrics()];
}

test("the hot series expose exactly what prom-client's Counter and Histogram do", async () => {
  const [theirs, ours] = await bothExpositions();
  assert.equal(ours, theirs);
  assert.match(ours, /h_seconds_bucket\{le="\+Inf",model="m\\"1",outcome="ok"\}/);
});
