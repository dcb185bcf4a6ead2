// One case opened over the board: its card, timeline, photos, estimate, and the actions
// the person may take (the server says which; it checks again when they are taken).

import { blobUrl, get, post } from "./api.js";
import { fail, refresh, telegramBack } from "./app.js";
import { clear, fill, h } from "./dom.js";
import { stepForm } from "./forms.js";
import { t } from "./i18n.js";

const panel = () => document.getElementById("case");
const photoUrls = [];

export function closeCase() {
  panel().hidden = true;
  document.body.classList.remove("case-open");
  telegramBack(false);
  for (const url of photoUrls.splice(0)) URL.revokeObjectURL(url);
  refresh().catch(fail);
}

export async function openCase(ref) {
  try {
    show(await get(`/app/api/cases/${encodeURIComponent(ref)}`));
  } catch (e) {
    fail(e);
  }
}

function row(label, value) {
  return value ? h("div", { class: "row" }, h("span", { class: "label" }, label), h("span", {}, value)) : null;
}

function show(c) {
  const box = clear(panel());
  box.hidden = false;
  box.dataset.ref = c.ref;
  document.body.classList.add("case-open");
  telegramBack(true);
  const photos = h("div", { class: "photos" });
  fill(box, 
    h("button", { type: "button", class: "back", onclick: closeCase }, t("app.back")),
    h("h2", {}, `${c.ref} · ${c.kind_label}`),
    h("p", { class: c.late ? "status late" : "status", dataset: { status: c.status } }, c.status_label, c.late ? ` · ⏰ ${t("app.overdue")}` : ""),
    row(t("app.customer"), c.customer),
    row(c.labels.phone, c.phone),
    row(t("app.address"), c.address),
    row(t("app.dossier"), c.external_ref),
    row(t("app.worker"), c.assignee_name || t("app.unclaimed")),
    row(t("app.due_label"), c.due),
    row(t("app.description"), c.description),
    c.estimate
      ? row(c.labels.estimate, t("app.estimate_line", { customer: c.estimate.customer_text, utility: c.estimate.utility_text }))
      : null,
    c.meter ? row(t("app.meter"), [c.meter.serial, c.meter.reading].filter(Boolean).join(" · ")) : null,
    actions(c),
    c.photos.length ? h("h3", {}, `${t("app.photos")} (${c.photos.length})`) : null,
    photos,
    c.places.length ? h("h3", {}, t("app.places")) : null,
    c.places.map((p) => h("div", { class: "place" }, `📍 ${p.lat.toFixed(5)}, ${p.lon.toFixed(5)} · ${p.when} · ${p.who}`)),
    h("h3", {}, t("app.history")),
    h(
      "ol",
      { class: "history" },
      c.history.map((e) => h("li", {}, h("span", { class: "when" }, e.when), ` ${e.label} · ${e.who}`, e.note ? h("div", { class: "note" }, e.note) : null)),
    ),
  );
  for (const p of c.photos) {
    blobUrl(p.url)
      .then((url) => {
        photoUrls.push(url);
        photos.append(h("figure", {}, h("img", { src: url, alt: `${c.ref} ${p.when}` }), h("figcaption", {}, `${p.when} · ${p.who}`)));
      })
      .catch(() => {});
  }
}

function actions(c) {
  if (!c.actions.length) return null;
  const area = h("div", { class: "form-area" });
  const buttons = c.actions.map((a) =>
    h("button", { type: "button", class: "action", dataset: { action: a.action }, onclick: () => start(c, a, area) }, a.label),
  );
  return h("section", { class: "actions" }, h("h3", {}, t("app.actions")), h("div", { class: "buttons" }, buttons), area);
}

function start(c, a, area) {
  clear(area);
  const done = (fresh) => show(fresh);
  if (a.action === "claim" || a.action === "resume") {
    post(`/app/api/cases/${c.ref}/${a.action}`, {}).then(done).catch((e) => note(area, e));
  } else if (a.action === "assign") {
    area.append(
      h("p", {}, t("app.pick_worker")),
      h(
        "div",
        { class: "picker" },
        c.workers.map((w) =>
          h(
            "button",
            {
              type: "button",
              dataset: { worker: w.uid },
              class: w.uid === c.assignee ? "worker current" : "worker",
              onclick: () => post(`/app/api/cases/${c.ref}/assign`, { member: w.uid }).then(done).catch((e) => note(area, e)),
            },
            h("span", {}, w.name),
            h("span", { class: "load" }, t("app.load", { count: w.count })),
          ),
        ),
      ),
    );
  } else if (a.action === "hold" || a.action === "cancel") {
    const input = h("input", { type: "text", name: "reason", required: true, placeholder: t("app.reason") });
    area.append(
      h(
        "form",
        {
          class: "step",
          onsubmit: (e) => {
            e.preventDefault();
            post(`/app/api/cases/${c.ref}/${a.action}`, { reason: input.value }).then(done).catch((err) => note(area, err));
          },
        },
        input,
        h("button", { type: "submit" }, a.label),
      ),
    );
    input.focus();
  } else if (a.step) {
    area.append(stepForm(c.ref, a, done));
  }
}

export function note(area, e) {
  area.append(h("p", { class: "error" }, e.message || t("app.error")));
}
