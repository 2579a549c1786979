/** The boundary check finds each kind of violation in a tree made for it (npm test runs it on the workspace). */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module without type declarations
import { checkBoundaries, importsOf } from './check-boundaries.mjs';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'hushfl-boundaries-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('import boundaries', () => {
  it('reads static, side-effect, re-export and dynamic imports', () => {
    const found: string[] = importsOf(
      "import a from 'x';\nimport 'y';\nexport { b } from \"z\";\nconst c = await import('w');\nimport type { T } from './t.ts';",
    );
    expect([...found].sort()).toEqual(['./t.ts', 'w', 'x', 'y', 'z']);
  });

  it('flags Node, I/O libraries and DOM globals in pure packages, cross-package relative imports and app-to-app imports', () => {
    const root = tree({
      'packages/a/src/index.ts':
        "import { readFileSync } from 'node:fs';\nimport Fastify from 'fastify';\nimport { x } from '../../b/src/x.ts';\nexport const y = () => window.location;\n",
      'packages/a/src/ok.test.ts': "import { mkdtempSync } from 'node:fs';\n",
      'packages/b/src/x.ts': '// window.location in a comment is fine\nexport const x = 1;\n',
      'apps/web/package.json': '{"name": "@hushfl/web"}',
      'apps/coordinator/package.json': '{"name": "@hushfl/coordinator"}',
      'apps/web/src/main.ts': "import { createCoordinator } from '@hushfl/coordinator';\n",
      'apps/cli/src/main.ts': "import { createCoordinator } from '@hushfl/coordinator';\n",
    });
    const v: string[] = checkBoundaries(root);
    expect(v).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^pure-packages-no-node: packages.a.src.index\.ts → node:fs$/),
        expect.stringMatching(/^pure-packages-no-io-libraries: .* → fastify$/),
        expect.stringMatching(/^no-relative-import-into-another-package: .* → packages.b.src.x\.ts$/),
        expect.stringMatching(/^pure-packages-no-dom: .* → window$/),
        expect.stringMatching(/^apps-do-not-import-apps: apps.web.src.main\.ts → @hushfl\/coordinator$/),
      ]),
    );
    expect(v).toHaveLength(5);
  });

  it("keeps Node out of the browser platform's code (not its tests or build plugin) and examples off the SDK's files", () => {
    const root = tree({
      'platform/browser/src/controller.ts':
        "import { readFileSync } from 'node:fs';\nimport { io } from 'socket.io-client';\nimport { Server } from 'socket.io';\n",
      'platform/browser/src/controller.test.ts': "import { Server } from 'socket.io';\nimport { createServer } from 'node:http';\n",
      'platform/browser/vite.mjs': "import { copyFileSync } from 'node:fs';\n",
      'platform/node/src/nodeClient.ts': "import { get } from 'node:http';\n",
      'examples/site/main.ts': "import { joinFederation } from '../../platform/browser/src/index.ts';\nimport { ClientController } from '@hushfl/browser';\n",
    });
    const v: string[] = checkBoundaries(root);
    expect([...v].sort()).toEqual([
      expect.stringMatching(/^browser-platform-no-node: platform.browser.src.controller\.ts → node:fs$/),
      expect.stringMatching(/^browser-platform-no-node: platform.browser.src.controller\.ts → socket\.io$/),
      expect.stringMatching(/^no-relative-import-into-another-package: examples.site.main\.ts → platform.browser.src.index\.ts$/),
    ]);
  });
});
