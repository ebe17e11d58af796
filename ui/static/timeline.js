// js_on_load of the timeline (gr.HTML). Globals from Gradio: element, props, watch, trigger.
// Draws props.value.figure with plotly.js, seeks the player on a click, and moves the playhead
// (layout.shapes[0]) while the video plays. The template is a static div, so Gradio's re-render never
// touches Plotly's SVG; redraws happen here, on mount and whenever Python sends a new value.
const div = element.querySelector('.vx-tl');
const empty = element.querySelector('.vx-tl-empty');
const PLAYER = '#vx-player';
const video = () => document.querySelector(PLAYER + ' video');
// customdata arrives as a list, or as a typed array when plotly.py encoded numpy
const timeOf = (p) => {
  const cd = p.customdata;
  if (cd != null && cd.length !== undefined) return Number(cd[0]);
  return typeof cd === 'number' ? cd : Number(p.x);
};
let playhead = 0;

function seekTo(t) {
  const v = video();
  if (!v || !isFinite(t)) return;
  v.currentTime = Math.max(0, t);
  const p = v.play();
  if (p && p.catch) p.catch(() => {});
}

// The playhead moves many times a second while the video plays. Plotly.relayout redraws the whole figure, range
// slider included (seconds per move on a long video's thousands of points), so the line's SVG path is moved
// directly, and the figure's own state (layout and fullLayout shapes[0]) is kept in step for its next redraw.
function movePlayhead(t) {
  if (!div._fullLayout || !isFinite(t) || Math.abs(t - playhead) < 0.03) return;
  playhead = t;
  const shape = div.layout.shapes && div.layout.shapes[0];
  const full = div._fullLayout.shapes && div._fullLayout.shapes[0];
  const xa = div._fullLayout.xaxis;
  const line = div.querySelector('.shapelayer path[data-index="0"]');
  const d = line && line.getAttribute('d');
  const ends = d && /^M([-\d.e]+),([-\d.e]+)L([-\d.e]+),([-\d.e]+)$/.exec(d);
  if (!shape || !full || !xa || typeof xa.l2p !== 'function' || !ends) {
    Plotly.relayout(div, {'shapes[0].x0': t, 'shapes[0].x1': t});
    return;
  }
  shape.x0 = shape.x1 = full.x0 = full.x1 = t;
  const x = (xa._offset + xa.l2p(t)).toFixed(2);
  line.setAttribute('d', `M${x},${ends[2]}L${x},${ends[4]}`);
}

function draw() {
  const v = props.value;
  if (!v || !v.figure) {
    if (div._fullLayout) Plotly.purge(div);
    div.style.display = 'none';
    empty.style.display = '';
    return;
  }
  empty.style.display = 'none';
  div.style.display = '';
  const fig = v.figure;
  const cur = video();
  if (cur && fig.layout.shapes && fig.layout.shapes[0]) {  // keep the playhead where the video is
    playhead = cur.currentTime;
    fig.layout.shapes[0].x0 = fig.layout.shapes[0].x1 = playhead;
  }
  Plotly.react(div, fig.data, fig.layout, {responsive: true, displaylogo: false,
    modeBarButtonsToRemove: ['select2d', 'lasso2d', 'autoScale2d'], toImageButtonOptions: {filename: 'timeline'}});
  div.dataset.task = v.task || '';
  div.dataset.draws = String(Number(div.dataset.draws || 0) + 1);  // lets tests and benchmarks see a redraw
  if (!div._vxBound) {
    div._vxBound = true;
    div.on('plotly_click', (ev) => {
      const p = ev.points && ev.points[0];
      if (!p) return;
      const t = timeOf(p);
      seekTo(t);
      movePlayhead(t);
    });
  }
}

draw();
// a long video's answer arrives window after window: values that come while a redraw is still running (a long
// timeline takes a while) are drawn once, the latest
let drawQueued = false;
watch('value', () => {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => { drawQueued = false; draw(); });
});

const onTime = (e) => {
  const v = e.target;
  if (!(v instanceof HTMLVideoElement) || !v.closest(PLAYER)) return;
  movePlayhead(v.currentTime);
};
['timeupdate', 'seeked'].forEach((n) => document.addEventListener(n, onTime, true));
// timeupdate fires ~4 times a second; while playing, follow the frames for a smooth playhead
document.addEventListener('play', (e) => {
  const v = e.target;
  if (!(v instanceof HTMLVideoElement) || !v.closest(PLAYER)) return;
  const step = () => { if (v.paused || v.ended || !v.isConnected) return; movePlayhead(v.currentTime);
                       requestAnimationFrame(step); };
  requestAnimationFrame(step);
}, true);
// Plotly measures 0 px inside a hidden container; resize when the page layout changes
new ResizeObserver(() => { if (div._fullLayout && div.offsetWidth) Plotly.Plots.resize(div); }).observe(element);
