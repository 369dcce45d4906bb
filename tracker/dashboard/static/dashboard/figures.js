// Numbers and sparklines as tracker/dashboard/figures.py renders them, for live updates.
export const SIGNIFICANT = 6;
export const DECIMALS_MAX = 8;
export const SPARK_WIDTH = 120;
export const SPARK_HEIGHT = 28;

export function valueText(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const magnitude = value ? Math.floor(Math.log10(Math.abs(value))) + 1 : 1;
  const decimals = Math.min(Math.max(SIGNIFICANT - magnitude, 0), DECIMALS_MAX);
  return value.toLocaleString("en-US", {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  });
}

export function changeText(change) {
  if (change === null || change === undefined || !Number.isFinite(change)) return "–";
  const sign = change > 0 ? "+" : change < 0 ? "−" : "";
  return `${sign}${Math.abs(change).toFixed(2)} %`;
}

export function changeClass(change) {
  if (change === null || change === undefined || change === 0) return "flat";
  return change > 0 ? "up" : "down";
}

export function sparklinePoints(values) {
  if (!values.length) return "";
  if (values.length === 1) { // one hour so far: a level line
    return `0.0,${(SPARK_HEIGHT / 2).toFixed(1)} ${SPARK_WIDTH.toFixed(1)},${(SPARK_HEIGHT / 2).toFixed(1)}`;
  }
  const low = Math.min(...values);
  const high = Math.max(...values);
  const span = high - low;
  const step = SPARK_WIDTH / Math.max(values.length - 1, 1);
  return values
    .map((value, i) => {
      const y = span === 0 ? SPARK_HEIGHT / 2 : ((high - value) / span) * (SPARK_HEIGHT - 2) + 1;
      return `${(i * step).toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
}

export function timeText(date) {
  // As the server writes it: 2026-11-29 11:40:56 UTC
  return date.toISOString().slice(0, 19).replace("T", " ") + " UTC";
}

export function numberOrNull(text) {
  if (text === undefined || text === null || text === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}
