export { HEALTH_PATH, METRICS_PATH, READY_PATH } from './paths.ts';
export { type AdminDeps, createAdminApp } from './server.ts';
