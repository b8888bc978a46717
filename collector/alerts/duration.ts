// Moved to src/duration.ts (the agent's backup jobs use it too); kept for the alerting benchmark's import.
export { durationSchema, parseDuration } from '../../src/duration.ts';
