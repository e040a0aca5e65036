// Public API of the LlamaCloud classify-jobs simulator (a local double of the list endpoint).

export { seedProjectJobs, V1_LANGS, V1_STATUSES } from './data.ts';
export type { SeedOptions, V1Job, V1ParsingConfiguration, V1Rule, V1Status } from './data.ts';
export { toV2Job, V2_STATUSES } from './data-v2.ts';
export type { V2Configuration, V2Job, V2ParsingConfiguration, V2Result, V2Status } from './data-v2.ts';
export { hostileItems, HOSTILE_ERROR_CHARS } from './hostile.ts';
export type { HostileItem } from './hostile.ts';
export { DEFAULT_FAULT_KINDS, FAULT_KINDS } from './faults.ts';
export type { FaultKind, FaultSpec } from './faults.ts';
export type { HookPageBody, PageHook } from './routes.ts';
export { DEFAULT_API_KEY, DEFAULT_MAX_PAGE_SIZE, DEFAULT_SEED, MOVED_PREFIX, simProjectId, startSimulator } from './server.ts';
export type { RedirectSpec, SimProjectSpec, Simulator, SimulatorOptions, SimulatorStats } from './server.ts';
export type { ApiName } from './store.ts';
export { V1_DEFAULT_PAGE_SIZE, V1_JOBS_PATH } from './v1.ts';
export { V2_DEFAULT_PAGE_SIZE, V2_JOBS_PATH, V2_MAX_PAGE_SIZE } from './v2.ts';
