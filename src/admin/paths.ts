/** Paths served on ADMIN_PORT. Public interface: probes and scrape configs in deploy/ name them. */
export const HEALTH_PATH = '/healthz';
export const READY_PATH = '/readyz';
export const METRICS_PATH = '/metrics';
