// The lead's board: read the launch data from the URL fragment (no Telegram script
// needed), trade it for a session, then show the tabs. Inside Telegram, its script adds
// the theme and the back button when it loads; nothing depends on it.

import { ApiError, forget, get, openSession, signedIn } from "./api.js";
import { showBoard } from "./board.js";
import { closeCase } from "./case.js";
import { loadStrings, t } from "./i18n.js";
import { showKpis } from "./kpis.js";
import { showMap } from "./map.js";
import { showMine } from "./mine.js";

const state = { me: null, tab: "board" };
const views = { board: showBoard, map: showMap, kpis: showKpis, mine: showMine };

function launchParams() {
  const params = new URLSearchParams(location.hash.slice(1));
  const found = {
    initData: params.get("tgWebAppData"),
    link: params.get("link"),
    theme: params.get("tgWebAppThemeParams"),
  };
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  return found;
}

function insideTelegram() {
  return Boolean(window.TelegramWebviewProxy || window.external?.notify || window.parent !== window);
}

function applyTheme(raw) {
  if (!raw) return;
  try {
    const theme = JSON.parse(raw);
    const root = document.documentElement.style;
    for (const [name, value] of Object.entries(theme)) {
      if (/^#[0-9a-f]{3,8}$/i.test(String(value))) root.setProperty(`--tg-${name.replaceAll("_", "-")}`, value);
    }
    document.body.classList.add("themed");
  } catch (e) {
    /* a theme we cannot read: keep ours */
  }
}

function loadTelegramScript() {
  // Only inside Telegram, only from telegram.org, and never waited for.
  if (!insideTelegram()) return;
  const script = document.createElement("script");
  script.src = "https://telegram.org/js/telegram-web-app.js";
  script.async = true;
  script.addEventListener("load", () => {
    const app = window.Telegram && window.Telegram.WebApp;
    if (!app) return;
    app.ready();
    app.expand();
    applyTheme(JSON.stringify(app.themeParams || {}));
    app.BackButton.onClick(() => closeCase());
  });
  document.head.append(script);
}

function say(text) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.hidden = !text;
}

export function telegramBack(shown) {
  const app = window.Telegram && window.Telegram.WebApp;
  if (app && app.BackButton) shown ? app.BackButton.show() : app.BackButton.hide();
}

export async function refresh() {
  await views[state.tab](state.me);
}

async function showTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.tab === tab);
  }
  for (const view of document.querySelectorAll(".view")) {
    view.hidden = view.id !== `view-${tab}`;
  }
  try {
    await views[tab](state.me);
  } catch (e) {
    fail(e);
  }
}

export function fail(e) {
  if (e instanceof ApiError && e.status === 401) {
    forget();
    for (const view of document.querySelectorAll(".view")) view.hidden = true;
    document.getElementById("tabs").hidden = true;
    say(t("app.session_ended"));
    return;
  }
  say(e instanceof ApiError ? e.message : t("app.error"));
}

async function start() {
  const launch = launchParams();
  applyTheme(launch.theme);
  loadTelegramScript();
  const reported = new URLSearchParams(launch.initData || "").get("user");
  let wanted = navigator.language;
  try {
    wanted = JSON.parse(reported || "{}").language_code || wanted;
  } catch (e) {
    /* keep the browser's */
  }
  await loadStrings(wanted);
  try {
    if (launch.initData) {
      await openSession({ init_data: launch.initData });
    } else if (launch.link) {
      await openSession({ link: launch.link });
    } else if (!signedIn()) {
      say(t("app.no_launch"));
      return;
    }
    state.me = await get("/app/api/me");
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) {
      say(e.message);
    } else if (e instanceof ApiError && e.status === 401) {
      forget();
      say(t("app.denied"));
    } else {
      say(t("app.error"));
    }
    document.body.dataset.state = "refused";
    return;
  }
  if (state.me.lang) await loadStrings(state.me.lang);
  document.getElementById("who").textContent = state.me.name;
  document.querySelector('[data-tab="kpis"]').hidden = !state.me.kpis;
  const tabs = document.getElementById("tabs");
  tabs.hidden = false;
  tabs.addEventListener("click", (event) => {
    const tab = event.target.closest("button")?.dataset.tab;
    if (tab) showTab(tab);
  });
  say("");
  document.body.dataset.state = "ready";
  const first = state.me.role === "worker" && !state.me.admin ? "mine" : "board";
  await showTab(first);
}

start();
