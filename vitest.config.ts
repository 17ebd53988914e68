import { defineConfig } from 'vitest/config';

// The SDK warns that its releases after January 2027 need Node 22; the lock file pins ours.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 60_000,
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
    hookTimeout: 120_000,
    // One DynamoDB Local JVM serves every file; files run in parallel on their own tables.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
