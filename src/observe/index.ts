export { createLogObserver } from './log-observer.ts';
export { createLogger, type Logger } from './logger.ts';
export { Metrics, type MetricsOptions } from './metrics.ts';
export { ModelLabels } from './model-label.ts';
