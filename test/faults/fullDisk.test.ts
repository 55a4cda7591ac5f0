import { describeFullDisk } from './fullDisk.js';
import { recordReliability } from './audit.js';

// The full-disk scenario of test/sqlite/fullDisk.test.ts, with its figures recorded for the README.
describeFullDisk((all) => {
  const sum = (pick: (f: (typeof all)[number]) => number): number => all.reduce((n, f) => n + pick(f), 0);
  recordReliability({
    scenario: 'SQLite on a full disk (1 MB tmpfs): every write method called until the disk is full',
    faults: `${sum((f) => f.refused)} writes refused (${[...new Set(all.flatMap((f) => Object.keys(f.codes)))].join(', ')})`,
    committed: sum((f) => f.acknowledged),
    delivered: sum((f) => f.stored),
    lost: sum((f) => f.lost),
    duplicated: sum((f) => f.storedThoughRefused),
    outOfOrder: 0,
    recoveryMs: null,
    note: `changes = acknowledged, lost = acknowledged but not stored, duplicated = refused but stored; acknowledged/stored per method: ${all.map((f) => `${f.method} ${f.acknowledged}/${f.stored}`).join(', ')}`,
  });
});
