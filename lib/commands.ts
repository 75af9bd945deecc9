/**
 * `pg-quadlet/commands`: every command of the CLI as a library function. Each takes a `Context`
 * (made by `createContext`, which reads the config as the CLI does) and options, returns data,
 * and has a `format...` that turns it into the CLI's text.
 */
export { createContext, contextFor, type Context, type ContextOptions } from './context.js';
export { backup, formatBackup, type BackupOptions, type BackupReport, type BackupResult } from './commands/backup.js';
export { backups, formatBackups, type BackupSet, type BackupsResult } from './commands/backups.js';
export { dump, formatDump, type DumpResult } from './commands/dump.js';
export { dumps, formatDumps, type Dump } from './commands/dumps.js';
export { verify, formatVerify, type VerifyResult } from './commands/verify.js';
export { config, formatConfig, type ConfigResult } from './commands/config.js';
export { imageBuild, formatImageBuild, type ImageBuildOptions, type ImageBuildResult } from './commands/image.js';
export { update, formatUpdate, RollbackFailedError, type UpdateOptions, type UpdateResult } from './commands/update.js';
export { install, formatInstall, type InstallOptions, type InstallResult, type PasswordSource } from './commands/install.js';
export { password, formatPassword, type PasswordOptions, type PasswordResult } from './commands/password.js';
export { render, formatRender, type RenderOptions, type RenderResult } from './commands/render.js';
export { restore, formatRestore, type RestoreOptions, type RestoreResult } from './commands/restore.js';
export { schema, formatSchema } from './commands/schema.js';
export { status, formatStatus, type Status, type StatusOptions } from './commands/status.js';
export { uninstall, formatUninstall, type UninstallOptions, type UninstallResult } from './commands/uninstall.js';
export { url, formatUrl, type UrlOptions, type UrlResult } from './commands/url.js';
export { CommandError, type Runner, type CommandResult, type RunOptions } from './host/runner.js';
export { NotRunningError } from './host/podman.js';
