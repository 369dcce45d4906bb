// One metric's chart: buckets from /api/v1/metrics/{id}/buckets over the chosen range (a line
// of closes or candles), the user's alerts marked on it, extended live by the records stream.
import { timeText, valueText } from "./figures.js";
import { follow } from "./live.js";

const holder = document.getElementById("chart");
const metric = Number(holder.dataset.metric);
const ranges = JSON.parse(document.getElementById("chart-ranges").textContent);
const csv = document.getElementById("csv");
const state = {
  range: holder.dataset.range, style: "line", buckets: [], alerts: [], width: 300, since: 0, until: 1,
};
let plot = null;
let loading = 0;

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function columns() {
  const b = state.buckets;
  return [
    b.map((x) => x.t), b.map((x) => x.close), b.map((x) => x.open),
    b.map((x) => x.high), b.map((x) => x.low),
  ];
}

function drawCandles(u) {
  if (state.style !== "candles") return;
  const [xs, closes, opens, highs, lows] = u.data;
  const ctx = u.ctx;
  const step = xs.length > 1 ? u.valToPos(xs[1], "x", true) - u.valToPos(xs[0], "x", true) : 8;
  const body = Math.max(1, Math.min(12, step * 0.6));
  ctx.save();
  for (let i = 0; i < xs.length; i++) {
    const x = u.valToPos(xs[i], "x", true);
    const up = closes[i] >= opens[i];
    ctx.strokeStyle = ctx.fillStyle = up ? css("--up") : css("--down");
    ctx.beginPath();
    ctx.moveTo(x, u.valToPos(highs[i], "y", true));
    ctx.lineTo(x, u.valToPos(lows[i], "y", true));
    ctx.stroke();
    const top = u.valToPos(Math.max(opens[i], closes[i]), "y", true);
    const bottom = u.valToPos(Math.min(opens[i], closes[i]), "y", true);
    ctx.fillRect(x - body / 2, top, body, Math.max(1, bottom - top));
  }
  ctx.restore();
}

function drawAlerts(u) {
  const ctx = u.ctx;
  const [from, to] = [u.scales.x.min, u.scales.x.max];
  ctx.save();
  for (const event of state.alerts) {
    const fired = Date.parse(event.fired_at) / 1000;
    const ended = event.resolved_at ? Date.parse(event.resolved_at) / 1000 : to;
    if (ended < from || fired > to) continue;
    const left = u.valToPos(Math.max(fired, from), "x", true);
    const right = u.valToPos(Math.min(ended, to), "x", true);
    ctx.fillStyle = "rgba(220, 38, 38, 0.12)";
    ctx.fillRect(left, u.bbox.top, Math.max(2, right - left), u.bbox.height);
    ctx.strokeStyle = css("--down");
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(left, u.bbox.top);
    ctx.lineTo(left, u.bbox.top + u.bbox.height);
    ctx.stroke();
  }
  ctx.restore();
}

function tickText(seconds) {
  // UTC, as precise as the range needs: 14:05 within a day, 11-29 within a quarter, else 2026-11.
  const iso = new Date(seconds * 1000).toISOString();
  const span = state.until - state.since;
  if (span <= 86400) return iso.slice(11, 16);
  if (span <= 90 * 86400) return iso.slice(5, 10);
  return iso.slice(0, 7);
}

function tickValue(value, step) {
  // As many decimals as the step between ticks needs, the same on every tick.
  const decimals = Math.min(Math.max(0, -Math.floor(Math.log10(step || 1))), 8);
  return value.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

function yRange(u) {
  const lows = u.data[4].filter(Number.isFinite);
  const highs = u.data[3].filter(Number.isFinite);
  if (!lows.length) return [0, 1];
  let low = Math.min(...lows);
  let high = Math.max(...highs);
  if (low === high) [low, high] = [low - Math.abs(low) * 0.01 - 1e-9, high + Math.abs(high) * 0.01 + 1e-9];
  const pad = (high - low) * 0.05;
  return [low - pad, high + pad];
}

function build() {
  const axis = { stroke: css("--muted"), grid: { stroke: css("--line"), width: 1 }, ticks: { stroke: css("--line") } };
  const options = {
    width: Math.max(holder.clientWidth, 280),
    height: holder.clientWidth < 500 ? 260 : 360,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
    cursor: { drag: { x: false, y: false }, points: { size: 7 } },
    scales: { x: { time: true, range: () => [state.since, state.until] }, y: { range: yRange } },
    axes: [
      { ...axis, values: (u, ticks) => ticks.map(tickText) },
      { ...axis, size: 70, values: (u, ticks, axis, space, step) => ticks.map((v) => tickValue(v, step)) },
    ],
    series: [
      { label: "Time (UTC)", value: (u, v) => (v == null ? "–" : timeText(new Date(v * 1000))) },
      {
        label: "Close", stroke: css("--accent"), width: 1.5,
        show: true, paths: state.style === "candles" ? () => null : undefined,
        points: { show: () => state.buckets.length < 40 }, value: (u, v) => valueText(v),
      },
      { label: "Open", show: state.style === "candles", paths: () => null, points: { show: false }, value: (u, v) => valueText(v) },
      { label: "High", show: state.style === "candles", paths: () => null, points: { show: false }, value: (u, v) => valueText(v) },
      { label: "Low", show: state.style === "candles", paths: () => null, points: { show: false }, value: (u, v) => valueText(v) },
    ],
    hooks: { draw: [drawCandles, drawAlerts] },
  };
  holder.replaceChildren();
  plot = new uPlot(options, columns(), holder);
  holder.dataset.points = String(state.buckets.length);
  holder.dataset.state = "drawn";
  performance.mark("chart-drawn");
}

function redraw() {
  if (plot) plot.destroy();
  build();
}

async function load() {
  const ticket = ++loading;
  const { seconds, width } = ranges[state.range];
  const until = new Date();
  const since = new Date(until.getTime() - seconds * 1000);
  const window = `since=${since.toISOString()}&until=${until.toISOString()}`;
  holder.dataset.state = "loading";
  csv.href = `/api/v1/metrics/${metric}/buckets.csv?${window}`;
  const answer = await fetch(`/api/v1/metrics/${metric}/buckets?${window}`, {
    headers: { Accept: "application/json" },
  });
  if (ticket !== loading) return; // a later range was chosen meanwhile
  if (!answer.ok) {
    const problem = await answer.json().catch(() => ({}));
    holder.dataset.state = "failed";
    holder.replaceChildren(Object.assign(document.createElement("p"), {
      className: "errors", textContent: `The chart could not load: ${problem.detail || answer.status}.`,
    }));
    return;
  }
  const buckets = await answer.json();
  state.width = width;
  state.since = since.getTime() / 1000;
  state.until = until.getTime() / 1000;
  state.buckets = buckets.map((b) => ({
    t: Date.parse(b.timestamp) / 1000, open: b.open, high: b.high, low: b.low, close: b.close,
  }));
  document.getElementById("chart-interval").textContent = intervalText(width);
  document.getElementById("chart-count").textContent = `${buckets.length} bucket${buckets.length === 1 ? "" : "s"}.`;
  redraw();
}

function intervalText(seconds) {
  if (seconds % 86400 === 0) return `${seconds / 86400} day`;
  if (seconds % 3600 === 0) return `${seconds / 3600} hour`;
  return `${seconds / 60} minutes`;
}

function showLast(at, value) {
  document.getElementById("last-value").textContent = valueText(value);
  document.getElementById("last-time").textContent = timeText(at);
}

function extend(timestamp, value) {
  const at = new Date(timestamp);
  const start = Math.floor(at.getTime() / 1000 / state.width) * state.width;
  const last = state.buckets[state.buckets.length - 1];
  if (last && start === last.t) {
    last.close = value;
    last.high = Math.max(last.high, value);
    last.low = Math.min(last.low, value);
  } else if (!last || start > last.t) {
    state.buckets.push({ t: start, open: value, high: value, low: value, close: value });
  } else {
    return; // older than the chart's last bucket
  }
  holder.dataset.points = String(state.buckets.length);
  state.until = Math.max(state.until, at.getTime() / 1000);
  showLast(at, value);
  if (plot) plot.setData(columns());
}

async function loadAlerts() {
  if (!holder.dataset.alerts) return;
  const list = document.getElementById("alert-list");
  const answer = await fetch(`/api/v1/alerts?metric=${metric}&limit=100`, { headers: { Accept: "application/json" } });
  if (!answer.ok) {
    list.replaceChildren(Object.assign(document.createElement("li"), { textContent: "Alerts could not load." }));
    return;
  }
  state.alerts = await answer.json();
  list.replaceChildren(...(state.alerts.length ? state.alerts.map((event) => {
    const item = document.createElement("li");
    const ended = event.resolved_at ? `, resolved ${timeText(new Date(event.resolved_at))}` : ", still firing";
    item.textContent = `${event.rule.name}: ${valueText(event.value)} against an average of ${valueText(event.average)} at ${timeText(new Date(event.fired_at))}${ended}`;
    return item;
  }) : [Object.assign(document.createElement("li"), { className: "muted", textContent: "No alert on this metric yet." })]));
  if (plot) plot.redraw();
}

function press(group, attribute, value) {
  for (const button of document.querySelectorAll(`[${attribute}]`)) {
    button.setAttribute("aria-pressed", String(button.getAttribute(attribute) === value));
  }
}

document.addEventListener("click", (event) => {
  const range = event.target.closest("[data-range]");
  if (range) {
    state.range = range.dataset.range;
    press("range", "data-range", state.range);
    const url = new URL(location.href);
    url.searchParams.set("range", state.range);
    history.replaceState(null, "", url);
    load();
  }
  const style = event.target.closest("[data-style]");
  if (style) {
    state.style = style.dataset.style;
    press("style", "data-style", state.style);
    redraw();
  }
});

new ResizeObserver(() => {
  if (plot && Math.abs(plot.width - holder.clientWidth) > 4) {
    plot.setSize({ width: Math.max(holder.clientWidth, 280), height: holder.clientWidth < 500 ? 260 : 360 });
  }
}).observe(holder);
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", redraw);

load().then(loadAlerts);
follow({
  metrics: [metric],
  onRecords(records) {
    for (const { metric: id, timestamp, value } of records) if (id === metric) extend(timestamp, value);
  },
  onReset: load,
});
