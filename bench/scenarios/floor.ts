import postgres from 'postgres';
import { createArrivals, type LatencyProbe } from '../support/latency.js';
import type { Writer } from '../support/writerClient.js';

/**
 * The tables of the floor and of the bare-commit context figure, created next to
 * the store's schema in the same database: `bench_floor` rings a payload-less
 * doorbell from a statement trigger (as the store's log does); `bench_commit`
 * has no trigger at all.
 */
export async function createFloorSchema(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`
      CREATE TABLE bench_floor (id bigserial PRIMARY KEY, seq integer NOT NULL, body text NOT NULL);
      CREATE TABLE bench_commit (id bigserial PRIMARY KEY, seq integer NOT NULL, body text NOT NULL);
      CREATE FUNCTION bench_floor_doorbell() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('bench_floor', '');
        RETURN NULL;
      END $$;
      CREATE TRIGGER bench_floor_doorbell AFTER INSERT ON bench_floor
        FOR EACH STATEMENT EXECUTE FUNCTION bench_floor_doorbell();
    `);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * (a) The floor: the writer child inserts one row (the same ~450-byte rule text
 * the store writes) whose trigger rings a NOTIFY doorbell; here a postgres.js
 * `sql.listen` hears it and reads past its watermark, as a minimal hand-written
 * consumer would (one read in flight, one queued). Measured: issuing the
 * insert -> the row in hand.
 */
export function floorProbe(url: string, writer: Writer): LatencyProbe {
  const arrivals = createArrivals('floor');
  let sql: postgres.Sql | null = null;
  let watermark = '0';
  let reading = false;
  let again = false;

  const read = async (db: postgres.Sql): Promise<void> => {
    reading = true;
    try {
      do {
        again = false;
        const rows = await db<{ id: string; seq: number; body: string }[]>`
          SELECT id, seq, body FROM bench_floor WHERE id > ${watermark} ORDER BY id LIMIT 1000`;
        for (const row of rows) {
          watermark = row.id;
          arrivals.arrive(row.seq);
        }
      } while (again);
    } finally {
      reading = false;
    }
  };
  const pump = (): void => {
    if (!sql) return;
    if (reading) {
      again = true;
      return;
    }
    read(sql).catch((error: unknown) => console.error('floor reader failed:', error));
  };

  return {
    id: 'floor',
    label: 'floor: insert + NOTIFY doorbell trigger, postgres.js listen, read the row',
    async setup() {
      sql = postgres(url, { max: 1, onnotice: () => {} });
      const [head] = await sql<{ id: string }[]>`SELECT coalesce(max(id), 0)::text AS id FROM bench_floor`;
      watermark = head?.id ?? '0';
      await sql.listen('bench_floor', pump);
    },
    async sample(seq) {
      const arrived = arrivals.expect(seq);
      const { t0, t1 } = await writer.call('floor', { seq });
      return { ms: (await arrived) - t0, ackMs: t1 - t0 };
    },
    async teardown() {
      await sql?.end({ timeout: 5 });
      sql = null;
    },
  };
}
