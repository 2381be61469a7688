/**
 * What a gateway process knows before it loads any feature: its version, the CPUs it may use,
 * the log levels it accepts, the error a failed worker start ends with. Kept free of
 * dependencies so `--version`, `--help` and usage errors start fast (main.ts imports only this
 * and cli/options.ts before a command runs).
 */
export { cgroupCpuLimit, defaultWorkers, type CpuQuotaOptions } from './cpu-quota.js'
export { nodeHttp } from './node-http.js'
export { LOG_LEVELS, type LogFormat, type LogLevel } from './log-levels.js'
export { WorkerStartFailure } from './start-failure.js'
export { gatewayVersion, packageRoot } from './version.js'
export { holdServeSignals, holdSignals, isSignalHeld, releaseSignal } from './held-signals.js'
export { folderCreationProblem, makeFolders, type FoldersMade } from './make-folders.js'
