// Browser end-to-end test of VideoExpert Studio on a long video, driven by tests/e2e/test_browser.py.
//
//   node long_video.mjs <app url> <video file> <screenshot.png> <query>
//
// Uploads a long video, runs "Find a moment" and watches the page while the windows are answered: the progress
// bar's "Window k/n" (at least two values), the timeline redrawn with partial answers (the part not analysed yet
// greyed out) before the final one. Then zooms the timeline by dragging a box over its last minutes (the x range
// must change), clicks the top moment's bar there and checks the player's currentTime is that global time. Prints one
// JSON line of measurements; exits 1 on failure.
import { check, openWithVideo, recordSeeks, session } from './browser.mjs';

const [url, videoFile, screenshot, query] = process.argv.slice(2);
if (!url || !videoFile || !screenshot || !query) {
  console.error('usage: node long_video.mjs <url> <video> <screenshot.png> <query>');
  process.exit(2);
}
const TOLERANCE_S = 0.1;
const ZOOM_S = 120;          // the stretch of the video the test zooms into: its last two minutes

await session(screenshot, async (page, report) => {
  report.video_duration = await openWithVideo(page, url, videoFile);

  // 1. watch the progress bar and the timeline's redraws from before the click until the final answer
  await page.evaluate(() => {
    const seen = window.__vxWatch = { windows: [], draws: [], finished: false };
    const tick = () => {
      for (const el of document.querySelectorAll('.progress-level-inner, .progress-text, .meta-text')) {
        const m = /Window (\d+)\/(\d+)/.exec(el.textContent || '');
        const bar = el.closest('.progress-level') && el.closest('.progress-level').querySelector('.progress-bar');
        if (m && !seen.windows.some((w) => w.k === Number(m[1]))) {
          seen.windows.push({ k: Number(m[1]), n: Number(m[2]), bar: bar ? bar.style.width : null, t: Date.now() });
        }
      }
      const gd = document.querySelector('#vx-timeline .vx-tl');
      const draws = gd ? Number(gd.dataset.draws || 0) : 0;
      if (gd && gd.layout && draws > (seen.draws.length ? seen.draws[seen.draws.length - 1].draws : 0)) {
        seen.draws.push({ draws, pending: (gd.layout.shapes || []).length > 1, t: Date.now(),
                          range: gd.layout.xaxis.range.slice() });
      }
      if (!seen.finished) setTimeout(tick, 40);
    };
    tick();
  });
  await page.locator('#vx-ground-query textarea, #vx-ground-query input').first().fill(query);
  const t0 = Date.now();
  await page.locator('#vx-ground-run').click();
  // the final answer: a timeline with nothing greyed out and the status line of a finished run
  await page.waitForFunction(() => {
    const gd = document.querySelector('#vx-timeline .vx-tl');
    const status = document.querySelector('#vx-status');
    return gd && gd.layout && gd.layout.shapes.length === 1 && status && /windows (computed|from cache)/.test(status.innerText);
  }, null, { timeout: 240000, polling: 200 });
  report.run_ms = Date.now() - t0;
  const watch = await page.evaluate(() => { window.__vxWatch.finished = true; return window.__vxWatch; });
  report.progress_windows = watch.windows;
  report.timeline_draws = watch.draws;
  report.status = await page.locator('#vx-status').innerText();
  report.answer = await page.locator('#vx-answer').innerText();
  const ks = new Set(watch.windows.map((w) => w.k));
  check(ks.size >= 2, `the progress bar showed fewer than two windows: ${JSON.stringify(watch.windows)}`);
  check(watch.draws.some((d) => d.pending), `no partial answer was drawn before the final one: ${JSON.stringify(watch.draws)}`);

  // 2. zoom: drag a box over the last ZOOM_S seconds of the saliency panel (the y axes are fixed: x only)
  const geometry = () => page.evaluate(() => {
    const gd = document.querySelector('#vx-timeline .vx-tl');
    const fl = gd._fullLayout, box = gd.getBoundingClientRect();
    return { range: fl.xaxis.range.slice(), x0: box.left + fl.xaxis._offset, width: fl.xaxis._length,
             y: box.top + fl.yaxis2._offset + fl.yaxis2._length / 2, duration: document.querySelector('#vx-player video').duration };
  });
  await page.locator('#vx-timeline').scrollIntoViewIfNeeded();     // mouse events need it inside the viewport
  const before = await geometry();
  report.range_before = before.range;
  const px = (g, t) => g.x0 + (t - g.range[0]) / (g.range[1] - g.range[0]) * g.width;
  const from = before.duration - ZOOM_S, to = before.duration - 1;
  await page.mouse.move(px(before, from), before.y);
  await page.mouse.down();
  await page.mouse.move(px(before, (from + to) / 2), before.y, { steps: 5 });
  await page.mouse.move(px(before, to), before.y, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction((r) => {
    const x = document.querySelector('#vx-timeline .vx-tl')._fullLayout.xaxis.range;
    return x[1] - x[0] < (r[1] - r[0]) / 2;
  }, before.range, { timeout: 10000 });
  const zoomed = await geometry();
  report.range_after = zoomed.range;
  check(Math.abs(zoomed.range[0] - from) < 5 && Math.abs(zoomed.range[1] - to) < 5,
        `zoomed to ${zoomed.range}, expected about [${from}, ${to}]`);

  // 3. the top moment lies in the last window: click its bar, the player seeks to its start in global time
  const target = await page.evaluate(() => {
    const gd = document.querySelector('#vx-timeline .vx-tl');
    const bars = gd.data.find((t) => t.type === 'bar');
    const cd = bars.customdata[0];
    return { start: Number(cd[0]), end: Number(cd[1]), score: Number(cd[2]) };
  });
  report.segment = target;
  check(target.start >= zoomed.range[0] && target.start < zoomed.range[1],
        `the top moment ${target.start} s is outside the zoomed range ${zoomed.range}`);
  const bar = await page.locator('#vx-timeline g.trace.bars path').first().boundingBox();
  report.bar_px = bar;
  check(bar && bar.width > 20, `bar #1 is too narrow to click after zooming: ${JSON.stringify(bar)}`);
  // the click seeks and plays; playing is stubbed here (the short-video test covers playback) so that the
  // player's currentTime can be read where the seek left it, however slow this machine is
  await page.evaluate(() => {
    window.__vxPlays = 0;
    HTMLMediaElement.prototype.play = function () { window.__vxPlays += 1; return Promise.resolve(); };
  });
  await recordSeeks(page);
  const x = bar.x + Math.min(bar.width / 4, 40), y = bar.y + bar.height / 2;
  await page.mouse.move(x, y);
  await page.waitForTimeout(150);
  await page.mouse.click(x, y);
  await page.waitForFunction(() => window.__vxSeeked.length > 0, null, { timeout: 10000 });
  report.seeked_to = await page.evaluate(() => window.__vxSeeks[0]);
  report.current_time = await page.evaluate(() => document.querySelector('#vx-player video').currentTime);
  report.seek_events = await page.evaluate(() => ({ seeking: window.__vxSeeks, seeked: window.__vxSeeked,
                                                    plays: window.__vxPlays }));
  check(Math.abs(report.seeked_to - target.start) <= TOLERANCE_S,
        `video seeked to ${report.seeked_to}, expected the segment start ${target.start} ± ${TOLERANCE_S}`);
  check(Math.abs(report.current_time - target.start) <= TOLERANCE_S,
        `the player's currentTime is ${report.current_time} once seeked, expected ${target.start} ± ${TOLERANCE_S}`);
  check(report.seek_events.plays >= 1, 'the click did not ask the player to play');
  // the playhead follows the player, inside the zoomed range, drawn where Plotly itself would draw it
  await page.waitForFunction(() => {
    const v = document.querySelector('#vx-player video');
    return Math.abs(document.querySelector('#vx-timeline .vx-tl').layout.shapes[0].x0 - v.currentTime) < 0.3;
  }, null, { timeout: 10000 });
  report.playhead = await page.evaluate(async () => {
    const gd = document.querySelector('#vx-timeline .vx-tl');
    const line = () => gd.querySelector('.shapelayer path[data-index="0"]').getAttribute('d');
    const moved = line(), t = gd.layout.shapes[0].x0;
    const t0 = performance.now();
    await Plotly.relayout(gd, { 'shapes[0].x0': t, 'shapes[0].x1': t });   // Plotly's own drawing of it
    return { t, moved, drawn: line(), relayout_ms: Math.round(performance.now() - t0) };
  });
  const xOf = (d) => parseFloat(d.slice(1));
  check(Math.abs(xOf(report.playhead.moved) - xOf(report.playhead.drawn)) < 0.5,
        `the playhead was moved to ${report.playhead.moved}, Plotly draws it at ${report.playhead.drawn}`);
  report.range_after_click = (await geometry()).range;
});
