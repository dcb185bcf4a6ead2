// This week's and this month's figures per worker, as /report computes them, drawn as
// bar charts in SVG by the page itself.

import { get } from "./api.js";
import { clear, fill, h } from "./dom.js";
import { t } from "./i18n.js";

const WIDTH = 340;
const BAR = 22;
const LABEL = 110;

function chart(period) {
  const workers = period.workers;
  if (!workers.length) return h("p", { class: "notice" }, t("app.kpi.none"));
  const most = Math.max(1, ...workers.map((w) => w.completed));
  const height = workers.length * (BAR + 10) + 10;
  const svg = h("svg:svg", { width: WIDTH, height, viewBox: `0 0 ${WIDTH} ${height}`, class: "chart", role: "img" });
  workers.forEach((w, i) => {
    const y = 10 + i * (BAR + 10);
    const width = Math.round(((WIDTH - LABEL - 70) * w.completed) / most);
    const rate = Math.round(w.on_time_rate * 100);
    svg.append(
      h("svg:text", { x: 0, y: y + 16, class: "name" }, w.name),
      h("svg:rect", { x: LABEL, y, width: Math.max(width, 2), height: BAR, class: rate >= 80 ? "bar good" : "bar", dataset: { member: w.member, completed: w.completed } }),
      h("svg:text", { x: LABEL + Math.max(width, 2) + 6, y: y + 16, class: "value" }, `${w.completed} · ${rate}%`),
    );
  });
  return svg;
}

export async function showKpis() {
  const view = document.getElementById("view-kpis");
  const data = await get("/app/api/kpis");
  fill(clear(view), 
    ...["week", "month"].map((word) => {
      const p = data[word];
      return h(
        "section",
        { class: "kpi", dataset: { period: word } },
        h("h2", {}, `${p.label} (${p.from} – ${p.to})`),
        h("p", {}, t("app.kpi.summary", { received: p.received, completed: p.completed, rate: `${Math.round(p.on_time_rate * 100)}%` })),
        h("p", { class: "legend" }, `${t("app.kpi.completed")} · ${t("app.kpi.on_time")}`),
        chart(p),
      );
    }),
  );
}
