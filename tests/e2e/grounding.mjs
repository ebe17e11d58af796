// Browser end-to-end test of VideoExpert Studio, driven by tests/e2e/test_browser.py.
//
//   node grounding.mjs <app url> <video file> <screenshot.png> [query]
//
// Uploads the video, runs "Find a moment", waits for the Plotly timeline, clicks the top segment bar and checks
// that the <video> seeked to the segment's start, checks the ranked list seeks too, plays and checks that the
// playhead follows, then saves a full-page screenshot. Prints one JSON line of measurements; exits 1 on failure.
import { check, openWithVideo, recordSeeks, session } from './browser.mjs';

const [url, videoFile, screenshot, query = 'the red square appears'] = process.argv.slice(2);
if (!url || !videoFile || !screenshot) {
  console.error('usage: node grounding.mjs <url> <video> <screenshot.png>');
  process.exit(2);
}
const TOLERANCE_S = 0.1;

await session(screenshot, async (page, report) => {
  // 1. upload: the file input of the player; the <video> appears once the upload is done
  report.video_duration = await openWithVideo(page, url, videoFile);

  // 2. grounding: type a query, Run, wait for the timeline's bars
  await page.locator('#vx-ground-query textarea, #vx-ground-query input').first().fill(query);
  const t0 = Date.now();
  await page.locator('#vx-ground-run').click();
  await page.locator('#vx-timeline g.trace.bars path').first().waitFor({ state: 'visible', timeout: 120000 });
  report.run_to_timeline_ms = Date.now() - t0;
  // the same query again: served from the feature cache; wait for the timeline's next redraw
  const draws = await page.evaluate(() => Number(document.querySelector('#vx-timeline .vx-tl').dataset.draws));
  const t1 = Date.now();
  await page.locator('#vx-ground-run').click();
  await page.waitForFunction((n) => Number(document.querySelector('#vx-timeline .vx-tl').dataset.draws) > n,
                             draws, { timeout: 120000 });
  report.repeat_run_to_timeline_ms = Date.now() - t1;
  report.status = await page.locator('#vx-status').innerText();
  check(report.status.includes('from cache'), `the repeated query was not served from the cache: ${report.status}`);

  // 3. click the top-ranked bar (#1) by coordinates: Plotly's drag layer covers the SVG, so hover then click
  const target = await page.evaluate(() => {
    const gd = document.querySelector('#vx-timeline .vx-tl');
    const bars = gd.data.find((t) => t.type === 'bar');
    const cd = bars.customdata[0];
    return { start: Number(cd[0]), end: Number(cd[1]), rows: bars.y.length };
  });
  report.segment = target;
  const paths = page.locator('#vx-timeline g.trace.bars path');
  check(await paths.count() >= 1, 'no bar drawn');
  // bar #1 is the first point of the bar trace
  const box = await paths.nth(0).boundingBox();
  check(box && box.width > 2, `bar #1 is too small to click: ${JSON.stringify(box)}`);
  await recordSeeks(page);
  const x = box.x + Math.min(box.width / 2, 40), y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.waitForTimeout(150);
  await page.mouse.click(x, y);
  await page.waitForFunction(() => window.__vxSeeks.length > 0, null, { timeout: 10000 });
  report.seeked_to = await page.evaluate(() => window.__vxSeeks[0]);
  check(Math.abs(report.seeked_to - target.start) <= TOLERANCE_S,
        `video seeked to ${report.seeked_to}, expected the segment start ${target.start} ± ${TOLERANCE_S}`);
  report.current_after_click = await page.evaluate(() => document.querySelector('#vx-player video').currentTime);
  check(report.current_after_click >= target.start - TOLERANCE_S,
        `currentTime ${report.current_after_click} is before the segment start ${target.start}`);

  // 4. the ranked list seeks as well (its last item, to move somewhere else)
  const items = page.locator('#vx-moments [data-start]');
  check(await items.count() >= 1, 'the ranked moments list is empty');
  const last = items.last();
  const itemStart = Number(await last.getAttribute('data-start'));
  await page.evaluate(() => { document.querySelector('#vx-player video').pause(); window.__vxSeeks = []; });
  await last.click();
  await page.waitForFunction(() => window.__vxSeeks.length > 0, null, { timeout: 10000 });
  report.list_seeked_to = await page.evaluate(() => window.__vxSeeks[0]);
  check(Math.abs(report.list_seeked_to - itemStart) <= TOLERANCE_S,
        `list click seeked to ${report.list_seeked_to}, expected ${itemStart}`);

  // 5. play from 1 s: the video's time and the timeline's playhead (layout.shapes[0]) must both advance
  const state = () => page.evaluate(() => {
    const v = document.querySelector('#vx-player video');
    const gd = document.querySelector('#vx-timeline .vx-tl');
    return { t: v.currentTime, playhead: gd.layout.shapes[0].x0,
             line: document.querySelector('#vx-timeline .shapelayer path').getAttribute('d') };
  });
  await page.evaluate(() => { const v = document.querySelector('#vx-player video'); v.pause(); v.currentTime = 1.0; });
  await page.waitForFunction(() => {
    const gd = document.querySelector('#vx-timeline .vx-tl');
    return Math.abs(gd.layout.shapes[0].x0 - 1.0) < 0.05;
  }, null, { timeout: 10000 });
  const before = await state();
  await page.evaluate(() => document.querySelector('#vx-player video').play());
  await page.waitForFunction((t) => document.querySelector('#vx-player video').currentTime > t + 0.8,
                             before.t, { timeout: 15000 });
  await page.waitForTimeout(300);
  await page.evaluate(() => document.querySelector('#vx-player video').pause());
  await page.waitForTimeout(300);
  const after = await state();
  report.playback = { before, after };
  check(after.t > before.t + 0.5, `the video did not play: ${before.t} -> ${after.t}`);
  check(after.playhead > before.playhead + 0.5, `the playhead did not move: ${before.playhead} -> ${after.playhead}`);
  check(Math.abs(after.playhead - after.t) < 0.3, `playhead ${after.playhead} lags the video at ${after.t}`);
  check(after.line !== before.line, 'the playhead line was not redrawn');

  // 6. park the player inside the top moment, hover its bar for a label, then the full page
  const park = Math.min(target.start + 0.5, (target.start + target.end) / 2);
  await page.evaluate((t) => { document.querySelector('#vx-player video').currentTime = t; }, park);
  await page.waitForFunction((t) => Math.abs(document.querySelector('#vx-timeline .vx-tl').layout.shapes[0].x0 - t) < 0.05,
                             park, { timeout: 10000 });
  const bar = await paths.nth(0).boundingBox();
  await page.mouse.move(bar.x + Math.min(bar.width / 2, 40), bar.y + bar.height / 2);
  await page.waitForTimeout(300);
});
