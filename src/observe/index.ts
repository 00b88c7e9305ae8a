export { createLogObserver } from './log-observer.ts';
export { createLoggers, type Logger, type Loggers } from './logger.ts';
export { Metrics, type MetricsOptions } from './metrics.ts';
export { ModelLabels } from './model-label.ts';
