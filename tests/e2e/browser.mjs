// What the browser scripts share: Debian's Chromium through playwright-core, the upload, and the report.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export function check(cond, message) {
  if (!cond) throw new Error(message);
}

// Runs `steps(page, report)` in a fresh headless Chromium profile; prints one JSON line of measurements (with
// `error` on failure, after a screenshot next to `screenshot` named *-failure.png) and sets the exit code.
export async function session(screenshot, steps) {
  const report = {};
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'vx-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--no-first-run',
           '--autoplay-policy=no-user-gesture-required'],
    viewport: { width: 1360, height: 900 },
    deviceScaleFactor: 1,
  });
  const page = context.pages()[0] || await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  try {
    await steps(page, report);
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    report.screenshot = screenshot;
    report.page_errors = errors;
    console.log(JSON.stringify(report));
  } catch (e) {
    report.error = String(e && e.stack || e);
    report.page_errors = errors;
    try {
      fs.mkdirSync(path.dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot.replace(/\.png$/, '-failure.png'), fullPage: true });
    } catch (_) { /* the page may be gone */ }
    console.log(JSON.stringify(report));
    process.exitCode = 1;
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

// Opens the app and uploads a video into the player; resolves once the <video> knows its duration.
export async function openWithVideo(page, url, videoFile) {
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60000 });
  await page.locator('#vx-header h1').waitFor({ timeout: 60000 });
  await page.locator('#vx-player input[type=file]').setInputFiles(videoFile);
  await page.waitForFunction(() => {
    const v = document.querySelector('#vx-player video');
    return v && v.readyState >= 1 && isFinite(v.duration) && v.duration > 0;
  }, null, { timeout: 60000 });
  return page.evaluate(() => document.querySelector('#vx-player video').duration);
}

// Records the <video>'s time each time it starts seeking (window.__vxSeeks) and each time a seek is done
// (window.__vxSeeked): 'seeking' fires as soon as currentTime is set, 'seeked' once the frame there is shown,
// both before playback (a click also plays) moves it on.
export async function recordSeeks(page) {
  await page.evaluate(() => {
    window.__vxSeeks = [];
    window.__vxSeeked = [];
    if (window.__vxRecording) return;
    window.__vxRecording = true;
    for (const [name, list] of [['seeking', '__vxSeeks'], ['seeked', '__vxSeeked']]) {
      document.addEventListener(name, (e) => {
        if (e.target instanceof HTMLVideoElement) window[list].push(e.target.currentTime);
      }, true);
    }
  });
}
