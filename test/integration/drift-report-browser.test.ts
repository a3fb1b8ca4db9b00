import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { runDriftJob } from '../../drift-job/index.js';
import { generateRows, writeCurrent, writeModelFiles } from './drift-fixtures.js';

/**
 * report.html in a real browser (Debian's headless Chromium): it renders without a console message,
 * a page error or any request beyond the file itself, and strings from the data are shown as text,
 * never run as markup. The screenshot stays in test-artifacts/ for a person to look at.
 */

const CHROMIUM = process.env.MLCYCLE_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = resolve('test-artifacts');
const HOSTILE = [
  `<img src=x onerror="console.error('xss-img')">`,
  `"><script>console.error('xss-script')</script>`,
];

describe('report.html in headless Chromium', () => {
  it('renders with no console output, no page error, no network, and escapes data strings', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is missing at ${CHROMIUM}: install it with apt-get install -y chromium (or set MLCYCLE_CHROMIUM)`,
      );
    }
    const model = await writeModelFiles();
    const rows = generateRows(2500, 21, { xShift: 1, colorWeights: [1, 1, 2] }).map((r, i) => ({
      ...r,
      record: { ...r.record, color: i % 2 === 0 ? HOSTILE[(i / 2) % 2]! : r.record.color },
    }));
    const current = await writeCurrent(model.dir, 'hostile.parquet', rows);
    const out = join(model.dir, 'report');
    const { reportHtmlUri } = await runDriftJob({
      reference: model.reference,
      current,
      out,
      modelName: 'flights-delay',
      modelVersion: 'v7',
    });

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const messages: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => messages.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => messages.push(`pageerror: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));
      const url = `file://${reportHtmlUri}`;
      await page.goto(url, { waitUntil: 'load' });
      await mkdir(ARTIFACTS, { recursive: true });
      const screenshot = join(ARTIFACTS, 'drift-report.png');
      await page.screenshot({ path: screenshot, fullPage: true });

      expect(messages).toEqual([]);
      expect(requests).toEqual([url]);
      const text = (await page.locator('body').textContent()) ?? '';
      expect(text).toContain('Drift report — flights-delay v7');
      expect(text).toContain('Drift detected');
      // The hostile categories appear as text in the summary, and created no element.
      expect(text).toContain(`<img src=x onerror="console.error('xss-img')">`);
      expect(await page.locator('main img, main script').count()).toBe(0);
      expect(await page.locator('svg').count()).toBeGreaterThanOrEqual(5);
      expect((await stat(screenshot)).size).toBeGreaterThan(20_000);
    } finally {
      await browser.close();
    }
  });
});
