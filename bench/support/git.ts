import { execSync } from 'node:child_process';

/** True when git reports uncommitted changes under any of `paths` (false if git is unavailable). */
export function uncommitted(...paths: string[]): boolean {
  try {
    return execSync(`git status --porcelain -- ${paths.join(' ')}`, { encoding: 'utf8' }).trim() !== '';
  } catch {
    return false;
  }
}

/** The short commit the run measures, saying so when src/, migrations/ or sql/ differ from it. */
export function measuredCommit(): string {
  try {
    const head = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
    return uncommitted('src', 'migrations', 'sql') ? `${head} + uncommitted changes in src/, migrations/ or sql/` : head;
  } catch {
    return 'unknown';
  }
}
