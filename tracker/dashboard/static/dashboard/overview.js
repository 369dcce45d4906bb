// The overview: sortable columns, live values over the records stream, stale markers.
import {
  changeClass, changeText, numberOrNull, sparklinePoints, timeText, valueText,
} from "./figures.js";
import { follow } from "./live.js";

const HOUR = 3600 * 1000;
const STALE_AFTER = 3; // intervals without a tick, as the server's status says
const table = document.getElementById("overview");
// Ranks and standard deviations move with the background refresh, not with each tick: the rows
// are fetched again this often (and at once after a gap in the stream).
const REFRESH_MS = Number(table.dataset.refresh || 60) * 1000;

function rowsById() {
  const found = new Map();
  for (const row of table.tBodies[0].rows) found.set(Number(row.dataset.metric), row);
  return found;
}
let rows = rowsById();

// Sorting: one button per column; text columns A→Z first, numbers largest first (rank: 1 first).
const NUMERIC = new Set(["value", "change", "stddev", "rank", "updated"]);
function sortKey(row, key) {
  if (key === "updated") return row.dataset.updated ? Date.parse(row.dataset.updated) : null;
  if (NUMERIC.has(key)) return numberOrNull(row.dataset[key]);
  return (row.dataset[key] || "").toLowerCase();
}
function sortBy(key, direction) {
  const body = table.tBodies[0];
  const sign = direction === "ascending" ? 1 : -1;
  const sorted = [...body.rows].sort((a, b) => {
    const x = sortKey(a, key);
    const y = sortKey(b, key);
    if (x === y) return 0;
    if (x === null) return 1; // nothing recorded: always last
    if (y === null) return -1;
    return (x < y ? -1 : 1) * sign;
  });
  body.append(...sorted);
  for (const th of table.tHead.rows[0].cells) th.removeAttribute("aria-sort");
  table.querySelector(`[data-sort="${key}"]`).closest("th").setAttribute("aria-sort", direction);
}
let sorted = { key: "exchange", direction: "ascending" };
table.tHead.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-sort]");
  if (!button) return;
  const key = button.dataset.sort;
  const first = NUMERIC.has(key) && key !== "rank" ? "descending" : "ascending";
  const direction = sorted.key === key
    ? (sorted.direction === "ascending" ? "descending" : "ascending")
    : first;
  sorted = { key, direction };
  sortBy(key, direction);
});

function spark(row) {
  return (row.dataset.spark || "").split(",").filter(Boolean).map(Number);
}

function update(row, timestamp, value) {
  const at = new Date(timestamp);
  const previous = row.dataset.updated ? Date.parse(row.dataset.updated) : 0;
  if (at.getTime() < previous) return; // an older record, arrived late
  row.dataset.value = String(value);
  row.dataset.updated = at.toISOString();
  row.querySelector(".value").textContent = valueText(value);
  const open = numberOrNull(row.dataset.open);
  if (open === null) row.dataset.open = String(value);
  const change = open ? ((value - open) / Math.abs(open)) * 100 : null;
  row.dataset.change = change === null ? "" : String(change);
  const cell = row.querySelector(".change");
  cell.textContent = changeText(change);
  cell.className = `num change ${changeClass(change)}`;
  // The sparkline is the close of each hour: a tick in the hour of the last point replaces it.
  const points = spark(row);
  const sameHour = previous && Math.floor(previous / HOUR) === Math.floor(at.getTime() / HOUR);
  if (sameHour && points.length) points[points.length - 1] = value;
  else points.push(value);
  while (points.length > 25) points.shift();
  row.dataset.spark = points.join(",");
  row.querySelector(".spark polyline").setAttribute("points", sparklinePoints(points));
  const updated = row.querySelector(".updated");
  let time = updated.querySelector("time");
  if (!time) {
    time = document.createElement("time");
    time.className = "hide-narrow";
    updated.replaceChildren(time, ...updated.querySelectorAll(".badge"));
  }
  time.dateTime = at.toISOString();
  time.textContent = timeText(at);
  const badge = row.querySelector(".badge.stale");
  if (badge) badge.dataset.status = "ok"; // its exchange answers again
  markStale(row, Date.now());
  row.classList.remove("flash");
  void row.offsetWidth; // restart the animation
  row.classList.add("flash");
}

function markStale(row, now) {
  const badge = row.querySelector(".badge.stale");
  if (!badge) return; // a paused or delisted pair
  const interval = numberOrNull(row.dataset.interval) || 60;
  const updated = row.dataset.updated ? Date.parse(row.dataset.updated) : 0;
  if (now - updated > STALE_AFTER * interval * 1000) {
    badge.textContent = "stale";
    badge.hidden = false;
  } else if (badge.dataset.status === "failing") {
    badge.textContent = "failing";
    badge.hidden = false;
  } else {
    badge.hidden = true;
  }
}

setInterval(() => {
  const now = Date.now();
  for (const row of rows.values()) markStale(row, now);
}, 5000);

async function reload() {
  // Something was missed: fetch the rows again, as rendered now, keeping the sort.
  const url = new URL(location.href);
  url.searchParams.set("part", "rows");
  const answer = await fetch(url, { headers: { Accept: "text/html" } });
  if (!answer.ok) return;
  const holder = document.createElement("table");
  holder.innerHTML = await answer.text();
  table.tBodies[0].replaceWith(holder.tBodies[0]);
  rows = rowsById();
  sortBy(sorted.key, sorted.direction);
}

setInterval(reload, REFRESH_MS);

follow({
  onRecords(records) {
    for (const { metric, timestamp, value } of records) {
      const row = rows.get(metric);
      if (row) update(row, timestamp, value);
    }
  },
  onReset: reload,
});
