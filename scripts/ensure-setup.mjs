// Set-up that `npm start`, `npm test` and `npm run bench` do for themselves on a
// fresh clone: install dependencies when they are missing or stale, and check
// that Java 17+ (needed by DynamoDB Local) is on the PATH. Plain JS: it runs
// before any dependency is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const installed = 'node_modules/.package-lock.json';
if (!existsSync(installed) || statSync('package-lock.json').mtimeMs > statSync(installed).mtimeMs) {
  console.error('Installing dependencies (npm ci)...');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (process.env.IPAM_DYNAMODB_ENDPOINT === undefined) {
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const major = Number(/version "(\d+)/.exec(`${java.stderr ?? ''}${java.stdout ?? ''}`)?.[1] ?? 0);
  if (java.error !== undefined || java.status !== 0 || major < 17) {
    console.error(
      `DynamoDB Local needs Java 17 or newer, and ${java.error === undefined ? `found Java ${major}` : 'none was found'}.\n` +
        'Install it with:  sudo apt-get install -y openjdk-17-jre-headless   (Debian/Ubuntu)\n' +
        '              or:  brew install openjdk@17                         (macOS)\n' +
        'then run the command again.',
    );
    process.exit(1);
  }
}
