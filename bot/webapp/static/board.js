// The board: filters, then one column per status, a card per case.

import { get } from "./api.js";
import { openCase } from "./case.js";
import { clear, fill, h } from "./dom.js";
import { t } from "./i18n.js";

const filters = { team: "", worker: "", kind: "", overdue: false, q: "" };
let searchTimer = null;

export function cardOf(c) {
  return h(
    "article",
    {
      class: c.late ? "card late" : "card",
      dataset: { ref: c.ref },
      tabindex: "0",
      onclick: () => openCase(c.ref),
      onkeydown: (e) => e.key === "Enter" && openCase(c.ref),
    },
    h("div", { class: "card-head" }, h("strong", {}, c.ref), h("span", { class: "kind" }, c.kind_label)),
    h("div", { class: "address" }, c.address),
    h("div", { class: "who" }, c.assignee_name ? `👷 ${c.assignee_name}` : t("app.unclaimed")),
    c.due
      ? h("div", { class: c.late ? "due late" : "due" }, c.late ? `⏰ ${t("app.overdue")} · ${c.due}` : t("app.due", { due: c.due }))
      : null,
  );
}

function select(name, label, options, value) {
  return h(
    "label",
    { class: "filter" },
    h("span", {}, label),
    h(
      "select",
      {
        name,
        onchange: (e) => {
          filters[name] = e.target.value;
          load();
        },
      },
      options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)),
    ),
  );
}

function filterBar(data) {
  const teams = [["", t("app.filter.all_teams")], ...data.teams.map((code) => [code, code])];
  const workers = [
    ["", t("app.filter.anyone")],
    ["none", t("app.filter.unclaimed")],
    ...data.workers.map((w) => [w.uid, `${w.name} (${w.count})`]),
  ];
  const kinds = [["", t("app.filter.all_kinds")], ...data.kinds.map((k) => [k.kind, k.label])];
  return h(
    "form",
    { class: "filters", onsubmit: (e) => e.preventDefault() },
    h("input", {
      type: "search",
      name: "q",
      value: filters.q,
      placeholder: t("app.search"),
      oninput: (e) => {
        filters.q = e.target.value;
        clearTimeout(searchTimer);
        searchTimer = setTimeout(load, 300);
      },
    }),
    data.teams.length > 1 ? select("team", t("app.filter.team"), teams, filters.team) : null,
    select("worker", t("app.filter.worker"), workers, filters.worker),
    select("kind", t("app.filter.kind"), kinds, filters.kind),
    h(
      "label",
      { class: "filter check" },
      h("input", {
        type: "checkbox",
        name: "overdue",
        checked: filters.overdue,
        onchange: (e) => {
          filters.overdue = e.target.checked;
          load();
        },
      }),
      h("span", {}, t("app.filter.overdue")),
    ),
  );
}

let view = null;

async function load() {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) {
    if (value) query.set(key, value === true ? "1" : value);
  }
  const data = await get(`/app/api/board?${query}`);
  const focused = document.activeElement && document.activeElement.name;
  fill(clear(view), 
    filterBar(data),
    h("p", { class: "total" }, t("app.total", { count: data.total, late: data.late })),
    h(
      "div",
      { class: "columns" },
      data.columns.map((col) =>
        h(
          "section",
          { class: col.cases.length ? "column" : "column empty", dataset: { status: col.status } },
          h("h2", {}, `${col.label} (${col.cases.length})`),
          col.cases.map(cardOf),
        ),
      ),
    ),
  );
  if (focused === "q") {
    const input = view.querySelector('input[name="q"]');
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }
  document.body.dataset.board = "loaded";
}

export async function showBoard() {
  view = document.getElementById("view-board");
  await load();
}
