import { describeFullDisk } from '../faults/fullDisk.js';

// Every SQLite write method on a full 1 MB tmpfs: acknowledged = stored, refusals
// are WRITE_FAILED (test/faults/fullDisk.ts; `npm run test:faults` records the figures).
describeFullDisk();
