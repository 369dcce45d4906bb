// The records stream (/api/v1/stream): one EventSource per page, with its state in the footer.
// The browser reconnects on its own and sends Last-Event-ID, so nothing is missed within the
// server's replay window; a `reset` event says something was, and the page reloads its data.

export function follow({ metrics = null, onRecords, onReset }) {
  const state = document.getElementById("live-state");
  if (state) state.hidden = false;
  const show = (name, text) => {
    if (!state) return;
    state.dataset.state = name;
    state.textContent = text;
  };
  const url = new URL("/api/v1/stream", location.origin);
  if (metrics) url.searchParams.set("metrics", metrics.join(","));
  const source = new EventSource(url);
  source.addEventListener("open", () => show("on", "live"));
  source.addEventListener("error", () => {
    show(source.readyState === EventSource.CLOSED ? "off" : "retrying",
      source.readyState === EventSource.CLOSED ? "offline" : "reconnecting…");
  });
  source.addEventListener("records", (event) => {
    let records;
    try {
      records = JSON.parse(event.data);
    } catch {
      return;
    }
    onRecords(records);
  });
  source.addEventListener("reset", () => onReset && onReset());
  addEventListener("pagehide", () => source.close());
  return source;
}
