// "My cases": each active case of the worker with its next step's form, the same
// questions the chat's guided form asks.

import { get } from "./api.js";
import { cardOf } from "./board.js";
import { clear, fill, h } from "./dom.js";
import { stepForm } from "./forms.js";
import { t } from "./i18n.js";

export async function showMine() {
  const view = document.getElementById("view-mine");
  const data = await get("/app/api/mine");
  if (!data.cases.length) {
    fill(clear(view), h("p", { class: "notice" }, t("app.mine_empty")));
    return;
  }
  fill(clear(view), 
    ...data.cases.map((c) => {
      const area = h("div", { class: "form-area" });
      const done = () => showMine();
      return h(
        "section",
        { class: "mine", dataset: { ref: c.ref } },
        cardOf(c),
        h(
          "div",
          { class: "buttons" },
          c.steps.map((a) =>
            h("button", { type: "button", class: "action", dataset: { action: a.action }, onclick: () => clear(area).append(stepForm(c.ref, a, done)) }, a.label),
          ),
        ),
        area,
      );
    }),
  );
}
