/**
 * `npm run schema:dump`: migrates a fresh Postgres database (TTP_TEST_PG_URL, as
 * the tests) and a fresh SQLite file, and writes their normalised schemas to
 * sql/schema/postgres.sql and sql/schema/sqlite.sql. Commit the result with the
 * migration that changed it; test/schema/dumps.test.ts fails until you do.
 */
import { writeFileSync } from 'node:fs';
import { regenerateSchemaDumps, SCHEMA_DUMP_FILES } from '../test/helpers/schemaDump.js';

const dumps = await regenerateSchemaDumps();
writeFileSync(SCHEMA_DUMP_FILES.postgres, dumps.postgres);
writeFileSync(SCHEMA_DUMP_FILES.sqlite, dumps.sqlite);
process.stdout.write(`wrote ${SCHEMA_DUMP_FILES.postgres}\nwrote ${SCHEMA_DUMP_FILES.sqlite}\n`);
