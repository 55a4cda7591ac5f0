import { basename } from 'node:path';

/**
 * Base names that are rule files in a rules directory (SPEC §7). Everything else —
 * editor swap files (`.R1.yaml.swp`), vim's `4913` probe, backups (`R1.yaml~`),
 * dotfiles, other extensions — is ignored without a log line.
 */
export const RULE_FILE_NAME = /^[A-Za-z0-9_]+\.ya?ml$/;

/** True when the path's base name is a rule file name. */
export function isRuleFile(path: string): boolean {
  return RULE_FILE_NAME.test(basename(path));
}
