// js_on_load of the ranked moments list (gr.HTML). A click on a moment seeks the player there and plays;
// while the video plays, the moments that contain the current time are marked.
const PLAYER = '#vx-player';
const video = () => document.querySelector(PLAYER + ' video');
element.addEventListener('click', (e) => {
  const item = e.target.closest('[data-start]');
  if (!item || !element.contains(item)) return;
  const v = video();
  if (!v) return;
  v.currentTime = Math.max(0, Number(item.dataset.start));
  const p = v.play();
  if (p && p.catch) p.catch(() => {});
});
document.addEventListener('timeupdate', (e) => {
  const v = e.target;
  if (!(v instanceof HTMLVideoElement) || !v.closest(PLAYER)) return;
  const t = v.currentTime;
  element.querySelectorAll('[data-start]').forEach((item) => {
    const on = t >= Number(item.dataset.start) - 0.05 && t <= Number(item.dataset.end) + 0.05;
    item.classList.toggle('vx-active', on);
  });
}, true);
