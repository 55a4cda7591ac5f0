import postgres from 'postgres';

/** A session that opened a transaction, ran some statements and now idles in it (as a forgotten psql would). */
export interface IdleSession {
  readonly pid: number;
  /** Ends the transaction (ROLLBACK) and the connection. */
  end(): Promise<void>;
}

/**
 * Connects to `url` (as `application_name`), runs `BEGIN` and `statements`, and
 * leaves the transaction open until `end()`.
 */
export async function openIdleTransaction(url: string, statements: readonly string[], applicationName = 'forgotten-psql'): Promise<IdleSession> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: applicationName } });
  const tx = await sql.reserve();
  try {
    const [row] = await tx<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
    await tx`BEGIN`;
    for (const statement of statements) await tx.unsafe(statement);
    return {
      pid: row!.pid,
      async end() {
        await tx`ROLLBACK`.catch(() => {});
        tx.release();
        await sql.end({ timeout: 1 });
      },
    };
  } catch (error) {
    tx.release();
    await sql.end({ timeout: 1 });
    throw error;
  }
}
