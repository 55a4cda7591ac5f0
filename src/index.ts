/**
 * ttp-rule-store: detection rules and their operational state in Postgres or
 * SQLite, with every change pushed to every subscriber, gap-free and in commit
 * order. This is the only public entry point.
 */
export { openRuleStore, migrate, type OpenRuleStoreOptions } from './store/openRuleStore.js';
export type {
  RuleStore,
  RuleSnapshot,
  SnapshotOptions,
  UpsertRuleOptions,
  UpsertRuleResult,
  RuleDocumentInput,
  UpsertRulesOptions,
  UpsertRulesResult,
  LoadCompiledOptions,
  RuleListing,
  RuleMetadata,
  GetRuleOptions,
  GetRuleResult,
  HistoryEntry,
  HistoryOptions,
  ConsumerOptions,
  PruneOptions,
  PruneResult,
  ConsumerInfo,
  NamedConsumer,
  StoreStats,
} from './store/ruleStore.js';
export type { ExpiryStats } from './store/expiryScheduler.js';
export type { ReadLogOptions, ReadLogResult } from './log/readLog.js';
export { compileRule, parseRule, type CompiledRule, type Emit, type ParseRuleOptions } from './domain/compileRule.js';
export { isValidRuleId, type RuleDocument } from './domain/ruleSchema.js';
export {
  DEFAULT_RULE_STATE,
  RULE_STATES,
  isActive,
  applyCeiling,
  isExpired,
  effectiveState,
  type RuleState,
  type RuleStateInput,
  type RuleStateName,
} from './domain/ruleState.js';
export { syncDirectory, type SyncDirectoryOptions, type SyncReport, type DirectorySync } from './sync/syncDirectory.js';
export { isRuleFile } from './sync/ruleFileName.js';
export { watchRules, type WatchRulesOptions } from './engine/watchRules.js';
export { createRuleIndex, applyChangesToIndex, ruleIndexToJson, ruleIndexFromJson, type RuleIndex, type RuleIndexJson, type RulePredicate } from './engine/ruleIndex.js';
export { comparePositions, type RuleChange, type DefinitionChange, type DeletedChange, type StateChange } from './domain/ruleChange.js';
export {
  RuleStoreError,
  RuleValidationError,
  MigrationRequiredError,
  StoreUnavailableError,
  LockTimeoutError,
  type WriterLockBlocker,
  type RuleStoreErrorCode,
  type RuleIssue,
} from './domain/errors.js';
export { diagnose, type DoctorCheck, type DiagnoseOptions } from './observability/doctor.js';
export { bridgeToNats, type BridgeToNatsOptions, type NatsBridge, type NatsBridgeEvent, type NatsBridgeStatus } from './nats/natsBridge.js';
export { subjectFor, parseSubject, type BusSubjectKind } from './nats/subjects.js';
export { decodeBusMessage, type BusPayload, type BusMessage } from './nats/payloads.js';
export type { JetStreamSettings } from './nats/jetstream.js';
export type { NatsTarget } from './nats/natsLink.js';
export { watchRulesFromNats, type WatchRulesFromNatsOptions, type BusEngineEvent } from './nats/watchRulesFromNats.js';
export {
  createSharedStoreSource,
  type SharedStoreSourceOptions,
  type BusEngineSource,
  type RuleLogSource,
  type RuleLogSourceFactory,
  type OpenedRuleLogSource,
} from './nats/ruleLogSource.js';
export { createRuleServer, readTokensFile, addToken, hashToken, API_ROLES, type RuleServerOptions, type RuleServerResult, type ApiToken, type ApiRole } from './server/index.js';
