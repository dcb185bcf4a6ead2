// The page's words come from the server's catalogues (Vietnamese first, English per user).

let words = {};
export let lang = "vi";

export async function loadStrings(wanted) {
  const resp = await fetch(`/app/api/strings?lang=${encodeURIComponent(wanted || "vi")}`);
  const data = await resp.json();
  words = data.strings || {};
  lang = data.lang || "vi";
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-t]")) {
    el.textContent = t(el.dataset.t);
  }
}

export function t(key, values = {}) {
  const text = words[key] || key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));
}
