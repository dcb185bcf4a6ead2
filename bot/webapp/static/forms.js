// A step's form, built from the questions the server sends (the chat's own form rows):
// words, amounts read by the server's Vietnamese parser, photos from the camera, and the
// place from the browser.

import { get, post } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

function amountField(f) {
  const shown = h("small", { class: "understood" });
  let timer = null;
  const input = h("input", {
    type: "text",
    inputmode: "decimal",
    name: f.name,
    required: !f.optional,
    placeholder: "1,5tr",
    oninput: () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        if (!input.value.trim()) return (shown.textContent = "");
        try {
          const read = await get(`/app/api/amount?text=${encodeURIComponent(input.value)}`);
          shown.textContent = t("app.amount_read", { text: read.text });
          shown.classList.remove("error");
        } catch (e) {
          shown.textContent = e.message;
          shown.classList.add("error");
        }
      }, 250);
    },
  });
  return [input, shown];
}

function locationField(form) {
  const lat = h("input", { type: "hidden", name: "latitude" });
  const lon = h("input", { type: "hidden", name: "longitude" });
  const shown = h("small", { class: "understood" });
  const button = h(
    "button",
    {
      type: "button",
      class: "locate",
      onclick: () => {
        if (!navigator.geolocation) return (shown.textContent = t("app.location_failed"));
        navigator.geolocation.getCurrentPosition(
          (pos) => {
            lat.value = pos.coords.latitude;
            lon.value = pos.coords.longitude;
            shown.textContent = t("app.location_set", { lat: pos.coords.latitude.toFixed(5), lon: pos.coords.longitude.toFixed(5) });
          },
          () => (shown.textContent = t("app.location_failed")),
          { enableHighAccuracy: true, timeout: 15000 },
        );
      },
    },
    t("app.use_location"),
  );
  return [button, lat, lon, shown];
}

function field(f, form) {
  let control;
  if (f.kind === "amount") control = amountField(f);
  else if (f.kind === "photos")
    control = [h("input", { type: "file", name: "photos", accept: "image/*", capture: "environment", multiple: true })];
  else if (f.kind === "location") control = locationField(form);
  else if (f.name === "note") control = [h("textarea", { name: f.name, rows: 3, required: !f.optional })];
  else control = [h("input", { type: "text", name: f.name, required: !f.optional })];
  return h("label", { class: "field", dataset: { field: f.name } }, h("span", {}, f.label), ...control);
}

export function stepForm(ref, action, done) {
  const problems = h("div", { class: "problems" });
  const form = h("form", { class: "step", dataset: { step: action.action } });
  form.append(
    ...action.fields.map((f) => field(f, form)),
    problems,
    h("button", { type: "submit", class: "send" }, action.label),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    problems.textContent = "";
    const body = new FormData(form);
    for (const [key, value] of [...body.entries()]) {
      if (value instanceof File && !value.size) body.delete(key);
    }
    const button = form.querySelector("button.send");
    button.disabled = true;
    try {
      done(await post(`/app/api/cases/${encodeURIComponent(ref)}/steps/${action.action}`, body));
    } catch (err) {
      const fields = (err.body && err.body.fields) || {};
      problems.append(...(Object.keys(fields).length ? Object.entries(fields).map(([k, v]) => h("p", { class: "error", dataset: { field: k } }, v)) : [h("p", { class: "error" }, err.message)]));
      button.disabled = false;
    }
  });
  return form;
}
