export { createLogObserver } from './log-observer.ts';
export { createLoggers, type Logger, type Loggers } from './logger.ts';
export { Metrics, type MetricsOptions } from './metrics.ts';
export {
  MISROUTE_WARN_MIN,
  MISROUTE_WARN_SHARE,
  MISROUTE_WARNING,
  MisrouteWarning,
  type MisrouteWarningOptions,
} from './misroute-warning.ts';
export { ModelLabels } from './model-label.ts';
export { ServedModels, UNKNOWN_SERVED_MODEL } from './served-model.ts';
