import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import pino from 'pino';
import { BACKENDS, createBackendFixture, type BackendFixture } from '../helpers/backends.js';

// A library user's own pino logger: every line the store writes carries exactly one
// `component` key (child loggers of child loggers used to repeat it).
const fixtures: BackendFixture[] = [];
after(async () => {
  for (const fx of fixtures) await fx.teardown();
});

for (const backend of BACKENDS) {
  test(`one component key per log line, events named area:thing:verb (${backend})`, async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const fx = await createBackendFixture(backend, 'logging');
    fixtures.push(fx);
    const store = await fx.open({ logger });
    await store.setState('LOG1', 'disabled', 'test');
    await store.close();
    const feedLine = lines.find((l) => /"event":"feed:(poll|listen):/.test(l));
    assert.ok(feedLine, `a feed logged its start: ${lines.join('\n')}`);
    for (const line of lines) {
      assert.equal(line.match(/"component":/g)?.length ?? 0, 1, `one component key: ${line}`);
      const { event } = JSON.parse(line) as { event?: string };
      if (event !== undefined) assert.match(event, /^[a-z]+(:[a-z-]+)+$/, line);
    }
  });
}
