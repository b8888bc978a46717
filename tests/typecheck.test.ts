import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

// Node runs the sources with types stripped, so nothing else would notice a type error.
it('type-checks the whole project with strict TypeScript', async () => {
  const result = await promisify(execFile)('node_modules/.bin/tsc', ['-p', 'tsconfig.json'], { maxBuffer: 10 * 1024 * 1024 }).then(
    () => ({ code: 0, output: '' }),
    (error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, output: error.stdout ?? '' }),
  );
  expect(result.output).toBe('');
  expect(result.code).toBe(0);
}, 120_000);
