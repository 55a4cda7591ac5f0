import { RuleStoreError, RuleValidationError } from '../domain/errors.js';
import { INPUT_LIMITS, textProblem } from '../domain/inputLimits.js';
import { ruleIdProblem } from '../domain/ruleSchema.js';
import { actorProblem } from '../domain/ruleState.js';

/*
 * Input bounds of the store API, checked before any SQL (see src/domain/inputLimits.ts).
 * Where the API defaults a `who` ('api'), only a given value is checked.
 */

/** Throws `RuleValidationError` (path `rule_id`) for an id that can never be stored. */
export function checkRuleId(ruleId: string): void {
  const problem = ruleIdProblem(ruleId);
  if (problem) throw new RuleValidationError([{ path: 'rule_id', message: problem }], { ruleId: typeof ruleId === 'string' && ruleId.length <= 128 ? ruleId : null });
}

/** Throws `STATE_INVALID` for a bad `setBy` of `method`; an absent one passes unless `required`. */
export function checkStateActor(setBy: unknown, method: string, required: boolean): void {
  if (!required && (setBy === undefined || setBy === '')) return;
  if (typeof setBy !== 'string' || setBy.length === 0) throw new RuleStoreError('STATE_INVALID', `${method} needs a non-empty setBy (who is changing the state)`);
  const problem = actorProblem(setBy);
  if (problem) throw new RuleStoreError('STATE_INVALID', `${method}: setBy ${problem}`);
}

/** Throws `RuleValidationError` (path `updatedBy`) for a bad given `updatedBy`. */
export function checkUpdatedBy(updatedBy: unknown): void {
  if (updatedBy === undefined || updatedBy === '') return;
  const problem = actorProblem(updatedBy);
  if (problem) throw new RuleValidationError([{ path: 'updatedBy', message: problem }]);
}

/** A source path as error messages show it: cut short, NUL made visible. */
const shownPath = (path: string): string => (path.length > 200 ? `${path.slice(0, 200)}…` : path).replace(/\u0000/g, '\\0');

/** Throws `RuleValidationError` (path `field`) for a given source path that is not a bounded string. */
export function checkSourcePath(sourcePath: string | undefined, field: 'sourcePath' | 'pruneUnder' = 'sourcePath'): void {
  if (sourcePath === undefined) return;
  const problem = typeof sourcePath === 'string' ? textProblem(sourcePath, INPUT_LIMITS.sourcePathLength) : 'must be a string';
  if (problem) throw new RuleValidationError([{ path: field, message: problem }], { source: typeof sourcePath === 'string' ? shownPath(sourcePath) : null });
}
