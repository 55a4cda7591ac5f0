/**
 * True for a Postgres URL (`postgres://…` or `postgresql://…`, any case): the one
 * test the store, the CLI and `doctor` use to pick the backend.
 *
 * @example isPostgresUrl('postgresql://localhost/rules') // true
 */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(url);
}
