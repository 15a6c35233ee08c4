// headwater UI: fills the page shell from the JSON API (/api), follows changes by server-sent
// events. No library, no build step. Every link is an ordinary <a href>.
"use strict";

const app = document.getElementById("app");
const SVG = "http://www.w3.org/2000/svg";

// An explicit bidirectional embedding, override or isolate (U+202A-U+202E, U+2066-U+2069) in
// a name makes the rest of it read in another order: an artifact "report\u202efdp" showed as
// "reportpdf", a tag "ok\u202edesiver" as "okrevised". Names, tags, users, values and
// messages are shown with each as its escape, as `dump`, `runs` and `logs` print them; the
// implicit marks and joiners that Arabic, Hebrew and emoji need stay text.
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;
function shownText(text) {
  return String(text).replace(BIDI_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

// A name (a tag, a user, a run or task id, a flow, step or artifact name) is chosen by whoever
// wrote the record and acted on by others: characters that could make it pass for another are
// shown as escapes, as the command line prints them (headwater/lookalikes.py, the same rules).
// Invisible ones (format characters, other spaces, blank letters, variation selectors), those
// Unicode folds into others (fullwidth, mathematical letters), another script's letters in a
// word of Latin ones ("\u0440rod", a Cyrillic r), and a word made only of Cyrillic or Greek
// letters drawn like Latin ones ("\u0440\u043e\u0440"); and Latin letters outside ASCII drawn like
// ASCII ones ("adm\u0131n", a dotless i) in a word that could pass for an ASCII word.
const ASCII_LOOKALIKES = new Set("ıȷɡɑɩǀƖĸɪʏɴʀʟʜᴀʙᴄᴅᴇɢᴊᴋᴍᴏᴘꜱᴛᴜᴠᴡᴢ");
const LATIN_LOOKALIKES = new Set("аеорсухіјѕԁԛԝһҽѵАВЕКМНОРСТУХІЈЅԚԜҺαοριυνκχγηωΑΒΕΖΗΙΚΜΝΟΡΤΥΧ");
const ALWAYS_SHOWN = /[\p{Cf}\p{Z}\p{Co}\p{Cn}\p{Cs}\p{Cc}\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0\ufe00-\ufe0f\u180b-\u180f\u{e0100}-\u{e01ef}]/u;
const MIXING_FREELY = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const IN_WORD = /[\p{L}\p{N}\p{M}]/u;

function scriptOf(c) {
  if (c < "\x80") return /[A-Za-z]/.test(c) ? "latin" : null;
  if (!/[\p{L}\p{N}]/u.test(c)) return null;  // a combining mark belongs to the letter before
  if (/\p{Script=Latin}/u.test(c)) return "latin";
  return MIXING_FREELY.test(c) ? "free" : "other";
}

function markWord(chars, start, end, marked) {
  const word = [];
  for (let i = start; i < end; i++) { const script = scriptOf(chars[i]); if (script) word.push([i, script]); }
  if (word.some(([, script]) => script === "latin")) {
    for (const [i, script] of word) if (script === "other") marked[i] = true;
  } else if (word.length && word.every(([i]) => LATIN_LOOKALIKES.has(chars[i]))) {
    for (const [i] of word) marked[i] = true;
  }
  const letters = word.map(([i]) => chars[i]);
  if (letters.some((c) => ASCII_LOOKALIKES.has(c))
      && letters.every((c) => c < "\x80" || ASCII_LOOKALIKES.has(c) || LATIN_LOOKALIKES.has(c))) {
    for (const [i] of word) if (ASCII_LOOKALIKES.has(chars[i])) marked[i] = true;
  }
}

function shownName(text) {
  const s = String(text);
  if (/^[\x20-\x7e]*$/.test(s)) return s;
  const chars = Array.from(s);
  const marked = chars.map((c) => c >= "\x80" && (ALWAYS_SHOWN.test(c) || c.normalize("NFKC") !== c));
  let start = 0;
  for (let end = 0; end <= chars.length; end++) {
    if (end < chars.length && IN_WORD.test(chars[end])) continue;
    if (end > start) markWord(chars, start, end, marked);
    start = end + 1;
  }
  return chars.map((c, i) => {
    if (!marked[i] && c >= " " && c !== "\x7f") return c;
    const code = c.codePointAt(0);
    return code <= 0xffff ? `\\u${code.toString(16).padStart(4, "0")}` : `\\U${code.toString(16).padStart(8, "0")}`;
  }).join("");
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = shownText(v);
    else node.setAttribute(k, k === "title" || k === "aria-label" ? shownText(v) : v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined) node.append(typeof c === "string" ? shownText(c) : c);
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

const enc = encodeURIComponent;

// The server's clock, not the browser's: every answer carries the server's time
// (X-Headwater-Now); the page keeps how far the browser's clock is from it, so a running task's
// duration is right on a machine whose clock is off by minutes or days (never negative).
let clockOffset = 0;  // server seconds minus browser seconds
function serverNow() { return Date.now() / 1000 + clockOffset; }

function noteServerTime(response, sentAt) {
  const said = Number(response.headers.get("x-headwater-now"));
  if (!Number.isFinite(said) || said <= 0) return;
  clockOffset = said - (sentAt + Date.now() / 1000) / 2;  // the answer left half-way, roughly
}

async function fetched(path) {
  const sentAt = Date.now() / 1000;
  let response;
  try {
    response = await fetch(path, { credentials: "same-origin" });
  } catch (e) {  // no answer at all: the browser's "Failed to fetch" says neither what nor why
    throw new Error(`no answer from the headwater UI server at ${location.origin} for ${path.split("?")[0]}: is \`headwater ui\` still running? Start it again, then reload this page`);
  }
  noteServerTime(response, sentAt);
  return response;
}

async function api(path) {
  const response = await fetched(path);
  if (!response.ok) {
    const error = new Error(await refusal(response));
    error.status = response.status;  // a 404 of a page's own run: the run was deleted
    throw error;
  }
  return response.json();
}

// What an error answer says went wrong and what to do: the API's {"error", "fix"}, or, for an
// answer that is not JSON (a proxy's page, a server error), its status and what was asked for.
async function refusal(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body && body.error) return body.fix ? `${body.error}. Fix: ${body.fix}` : body.error;
  } catch (e) { /* not JSON: say what came back instead */ }
  const path = new URL(response.url).pathname;
  return `the server answered ${response.status} ${response.statusText} for ${path}; check the terminal running headwater ui`;
}

// A time in the reader's own zone, the zone written out ("+05:30", "UTC"): a page shared across
// time zones is read without guessing. stamp() wraps it in <time datetime="...Z">.
function when(seconds) {
  if (!seconds) return "-";
  const d = new Date(seconds * 1000);
  const p = (n) => String(n).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? "UTC" : `${off < 0 ? "-" : "+"}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${zone}`;
}

// The reader's zone by name (America/New_York, Asia/Kolkata): an offset alone does not say
// which zone it is (nor that the next one shown, after a change of daylight saving time, is the
// same zone). Named once in the header of every page, and in each time's tooltip.
const ZONE = (() => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; } })();

function stamp(seconds) {
  if (!seconds) return "-";
  const text = when(seconds);
  return el("time", { datetime: new Date(seconds * 1000).toISOString(), title: ZONE ? `${text.slice(0, 19)} in ${ZONE} (${text.slice(20)})` : null, text });
}

(() => {
  const header = document.querySelector("body > header");
  if (!header) return;
  const offset = when(Date.now() / 1000).slice(20);
  const name = ZONE && ZONE !== "UTC" && ZONE !== "Etc/UTC" ? `${ZONE} (now ${offset})` : "UTC";
  header.append(el("span", { id: "zone", class: "muted zone", text: `times in ${name}` }));
})();

function duration(start, end) {
  if (!start) return "-";
  return seconds(Math.max(0, (end || serverNow()) - start));
}

function seconds(s) {
  if (s < 60) return `${s.toFixed(1)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

// A duration that ticks while its task or run runs: counted in the browser from the recorded
// start on the server's clock (one timer for the whole page, no request), until the row is
// drawn again with the recorded end, which then stays as it is. Something over without an end
// (a task of a killed run) has no duration to show.
function durationEl(tag, start, end, running, attrs) {
  const node = el(tag, attrs || {});
  setDuration(node, start, end, running);
  return node;
}

function setDuration(node, start, end, running) {
  node.textContent = running || end ? duration(start, end) : "-";
  if (running && start && !end) node.dataset.since = String(start);
  else delete node.dataset.since;
}

setInterval(() => {
  for (const node of document.querySelectorAll("[data-since]")) node.textContent = duration(Number(node.dataset.since));
}, 1000);

function size(bytes) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
  return `${i ? bytes.toFixed(1) : bytes} ${units[i]}`;
}

// Each tag a link to the runs carrying it. In a list of runs, a run with dozens of tags shows
// its first `shown` and a disclosure for the rest: forty tags made its row forty lines tall and
// squeezed the run's own name into a column a few letters wide.
function tagLinks(tags, shown) {
  if (!tags.length) return "-";
  const span = el("span", { class: "tags" });
  const link = (tag) => el("a", { href: `/?tag=${enc(tag)}`, class: "tag", text: shownName(tag) });
  const first = shown && tags.length > shown + 1 ? tags.slice(0, shown) : tags;
  first.forEach((tag, i) => span.append(i ? ", " : "", link(tag)));
  if (first.length < tags.length) {
    // a button saying whether it is open (a <details> drawn inline lost its role in Chromium's
    // accessibility tree: a screen reader read its summary as plain text)
    const more = `${tags.length - first.length} more tags`;
    const rest = el("span", { class: "tags-rest", hidden: true });
    tags.slice(first.length).forEach((tag) => rest.append(", ", link(tag)));
    const toggle = el("button", { type: "button", class: "more-tags", "aria-expanded": "false", text: more });
    toggle.addEventListener("click", () => {
      rest.hidden = !rest.hidden;
      toggle.setAttribute("aria-expanded", String(!rest.hidden));
      toggle.textContent = rest.hidden ? more : "fewer tags";
    });
    span.append(rest, " ", toggle);
  }
  return span;
}

// A table in a box of its own that scrolls sideways when the window is narrower than the table.
// Chromium puts a box that scrolls in the Tab order (so the keyboard can scroll it): each such box
// is a group named after what it holds, so a screen reader says what the stop is.
function scrolled(table) {
  return el("div", { class: "scroll", role: "group", "aria-label": `${table.getAttribute("aria-label")}, scrolls sideways` }, table);
}

function badge(status) { return el("span", { class: `status ${status}`, text: status }); }

const runHref = (flow, run) => `/runs/${enc(flow)}/${enc(run)}`;
const taskHref = (flow, run, step, task) => `${runHref(flow, run)}/${enc(step)}/${enc(task)}`;

function crumbs(...parts) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren();
  for (const [text, href] of parts) {
    nav.append(" / ", href ? el("a", { href, text: shownName(text) }) : el("span", { text: shownName(text), "aria-current": "page" }));
  }
}

// A page drawn afresh while the reader is on it (a run or a task that ended, a task's next
// attempt) keeps the reader's place: the element that had the keyboard focus (a task's link, a
// sort button, a find box) is focused again in the new drawing, without scrolling, so the Tab
// key goes on from where it was instead of from the top of the page.
// An element without an id is known by what it is, where it leads and says, and which of the
// elements alike it is (a failed task's link is in the failures list and in the task list).
function alike(key) {
  return [...app.getElementsByTagName(key.tag)].filter((n) => n.getAttribute("href") === key.href
    && n.getAttribute("aria-label") === key.label && n.dataset.sort === key.sort && n.textContent === key.text);
}

function focusKey(node) {
  if (!node || node === document.body || !app.contains(node)) return null;
  if (node.id) return { id: node.id };
  const key = { tag: node.tagName, href: node.getAttribute("href"), label: node.getAttribute("aria-label"), sort: node.dataset.sort, text: node.textContent };
  key.nth = alike(key).indexOf(node);
  return key;
}

function refocus(key) {
  if (!key) return;
  let found = key.id ? document.getElementById(key.id) : null;
  if (!key.id) { const all = alike(key); found = all[Math.min(key.nth, all.length - 1)] || null; }
  if (found && document.activeElement !== found) found.focus({ preventScroll: true });
}

function redraw(...children) {
  const key = focusKey(document.activeElement);
  // a find box keeps what was typed in it, and goes on finding it in the new drawing
  const typed = [...app.querySelectorAll("input[type=search][id]")].filter((i) => i.value).map((i) => [i.id, i.value]);
  app.replaceChildren(...children);
  for (const [id, value] of typed) {
    const input = document.getElementById(id);
    if (input && !input.value) { input.value = value; input.dispatchEvent(new Event("input")); }
  }
  refocus(key);
}

function fail(error) {
  document.title = "Cannot show this page · headwater";
  app.replaceChildren(el("h1", { text: "Cannot show this page" }),
    el("p", { class: "error", text: String(error.message || error) }),
    el("p", {}, el("a", { href: "/", text: "All runs" })));
}

// A run deleted (`headwater delete`) while its page, or one of its tasks' pages, was open: the
// page stops following it (no stream, no poll, no ticking duration) and says so above what it
// showed last, with the way back. Asked again, the server answers 404 for the run forever:
// polling on would never learn anything more.
let pageGone = false;
function gone(flow, runId) {
  if (pageGone) return;
  pageGone = true;
  closeStreams();
  document.getElementById("connection")?.remove();  // the server answered: it is the run that is gone
  for (const node of document.querySelectorAll("[data-since]")) delete node.dataset.since;
  document.title = shownText(`Gone: ${shownName(flow)}/${shownName(runId)} · headwater`);
  app.prepend(el("p", { id: "gone", class: "notice gone", role: "alert" },
    `Run ${flow}/${runId} is gone: it was deleted (headwater delete) after this page opened, and this page no longer follows it. What is below is what it showed last. `,
    el("a", { href: `/flows/${enc(flow)}`, text: `The runs of ${flow}` }), " · ",
    el("a", { href: "/", text: "all runs" })));
}

// The server out of reach while a page follows something (stopped, restarting, the browser
// offline): the page says so above what it shows, which may be out of date, until the server
// answers again; the page then reads what changed meanwhile. It never passes for live.
// A server that answers, but with an error (restarted with a token, a proxy's page), is named
// with what it said, not taken for one that is away.
function connectionLost(error) {
  if (pageGone) return;
  const text = error && error.status
    ? `The headwater UI server at ${location.origin} refused to update this page: ${error.message}. What is below may be out of date.`
    : `Lost the connection to the headwater UI server at ${location.origin} (stopped, restarting, or this browser offline): trying again. What is below may be out of date. If \`headwater ui\` was stopped, start it again.`;
  const shown = document.getElementById("connection");
  if (shown) { if (shown.textContent !== text) shown.textContent = text; return; }
  app.prepend(el("p", { id: "connection", class: "notice", role: "status", text }));
}

function connectionBack() { document.getElementById("connection")?.remove(); }

// Whether an error means the page's own run is no more: a 404 for it (a server that does not
// answer, or a 500, is something else: the page tries again as before).
const isGone = (error) => Boolean(error && error.status === 404);

// -- runs list -------------------------------------------------------------------------------

async function runsPage() {
  const fixedFlow = app.dataset.flow || "";
  const query = new URLSearchParams(location.search);
  const filters = {
    flow: fixedFlow || query.get("flow") || "", status: query.get("status") || "",
    tag: query.get("tag") || "", user: query.get("user") || "",
  };
  const offset = Math.max(0, parseInt(query.get("offset") || "0", 10) || 0);
  const limit = 50;
  crumbs(fixedFlow ? [fixedFlow, null] : ["runs", null]);
  const params = new URLSearchParams({ limit, offset });
  for (const [k, v] of Object.entries(filters)) if (v) params.set(k, v);
  const [flows, page] = await Promise.all([api("/api/flows"), api(`/api/runs?${params}`)]);

  const flowList = el("ul", { id: "flows" });
  for (const f of flows) {
    flowList.append(el("li", {}, el("a", { href: `/flows/${enc(f.name)}`, text: shownName(f.name) }),
      f.latest_run ? el("span", { class: "muted", text: ` #${shownName(f.latest_run.run_id)} ` }) : null,
      f.latest_run ? badge(f.latest_run.status) : null));
  }

  const form = el("form", { id: "filters", method: "get", action: location.pathname });
  if (!fixedFlow) {
    const select = el("select", { name: "flow" }, el("option", { value: "", text: "every flow" }));
    for (const f of flows) select.append(el("option", { value: f.name, text: shownName(f.name), selected: f.name === filters.flow }));
    form.append(el("label", {}, "flow ", select));
  }
  const status = el("select", { name: "status" }, el("option", { value: "", text: "any status" }));
  for (const s of ["running", "succeeded", "failed"]) status.append(el("option", { value: s, text: s, selected: s === filters.status }));
  form.append(el("label", {}, "status ", status),
    el("label", {}, "tag ", el("input", { name: "tag", value: filters.tag, size: 12 })),
    el("label", {}, "user ", el("input", { name: "user", value: filters.user, size: 10 })),
    el("button", { type: "submit", text: "Filter" }));
  form.addEventListener("submit", () => {  // an empty field stays out of the address
    for (const field of form.elements) if (field.name && !field.value) field.disabled = true;
  });
  // back to this page from the next one (the browser's cache): the fields are usable again
  window.addEventListener("pageshow", () => { for (const field of form.elements) field.disabled = false; });

  const rows = el("tbody");
  rows.append(...page.runs.map(runRow));
  const table = el("table", { id: "runs-table", "aria-label": "runs" },
    el("thead", {}, el("tr", {}, ...["run", "status", "started", "duration", "user", "tags"].map((h) => el("th", { text: h })))),
    rows);
  const pager = el("p", { class: "pager" });
  const link = (o) => { const q = new URLSearchParams(location.search); q.set("offset", o); return `${location.pathname}?${q}`; };
  if (offset > 0) pager.append(el("a", { href: link(Math.max(0, offset - limit)), rel: "prev", text: "← newer" }), " ");
  if (page.more) pager.append(el("a", { href: link(offset + limit), rel: "next", text: "older →" }));
  if (!flows.length) {  // nothing was ever run here: say so, and how to start
    app.replaceChildren(el("h1", { text: "Runs" }),
      el("p", { id: "no-runs", text: app.dataset.datastore ? `No runs yet in ${app.dataset.datastore}.` : "No runs yet." }),
      el("p", { class: "muted" }, "A run shows here as soon as it starts: ", el("code", { text: "python flow.py run" }),
        " in a folder whose .headwater/ this UI reads (or with the same --datastore-root and --metadata)."));
    const wait = async () => {  // the first run appears without a reload
      const now = await api("/api/flows").catch(() => []);
      if (now.length) runsPage().catch(fail); else setTimeout(wait, 5000);
    };
    setTimeout(wait, 5000);
    return;
  }
  // an empty page says what it was filtered by and leads back to every run (or to the first
  // page, past the last one); a run that starts and matches hides it (followRuns)
  const named = Object.entries(filters).filter(([k, v]) => v && !(k === "flow" && fixedFlow)).map(([k, v]) => `${k} “${shownName(v)}”`);
  const every = fixedFlow ? `show every run of ${fixedFlow}` : "show every run";
  const empty = el("p", { id: "no-runs-match", class: "muted", role: "status", hidden: page.runs.length > 0 },
    ...(offset > 0 ? [`No runs past the first ${offset}. `, el("a", { href: link(0), text: "the first page" })]
      : named.length ? [`No runs match ${named.join(", ")}. `, el("a", { href: location.pathname, text: every })]
        : [fixedFlow ? `No runs of ${fixedFlow}.` : "No runs match."]));
  // the runs first (the h1, and the first stop of the Tab key); the flows drawn beside them
  // the tag filter matches the exact text: other tags that look like it are named, as escapes
  const alike = page.lookalike_tags || [];
  const lookalikes = alike.length ? el("p", { id: "tag-lookalikes", class: "muted", role: "note" },
    `Tag “${shownName(filters.tag)}” matches that exact text only; `,
    alike.length === 1 ? "this tag looks like it but is another: " : "these tags look like it but are others: ",
    ...alike.flatMap((t, i) => [i ? ", " : "", el("a", { href: `/?tag=${enc(t)}`, class: "tag", text: shownName(t) })]),
    " (escapes show the characters that differ).") : null;
  app.replaceChildren(el("div", { class: "columns" },
    el("section", {}, el("h1", { text: fixedFlow ? `Runs of ${fixedFlow}` : "Runs" }), form, lookalikes, scrolled(table), empty, pager),
    el("aside", {}, el("h2", { text: "Flows" }), flowList)));
  followRuns(`/api/runs?${params}`, page, rows, empty);
}

const TAGS_LISTED = 6;  // a run's tags shown in the runs list before "N more tags"
function runRow(r) {
  return el("tr", { "data-pathspec": r.pathspec },
    el("td", {}, el("a", { href: runHref(r.flow, r.run_id), text: shownName(r.pathspec) }),
      r.origin_run_id ? el("span", { class: "muted resumed", text: ` resumed from ${shownName(r.origin_run_id)}` }) : null),
    el("td", {}, badge(r.status), ...interruptedNote(r)),
    el("td", { "data-label": "started" }, stamp(r.created_at)),
    durationEl("td", r.created_at, r.finished_at || r.stopped_at, r.status === "running", { "data-label": "took" }),
    el("td", { "data-label": "by", text: shownName(r.user) }),
    el("td", { "data-label": "tags" }, tagLinks(r.tags, TAGS_LISTED)));
}

// The runs list follows what it shows: every 2 s while a listed run is running, every 10 s
// otherwise (a new run appears), not at all while the tab is hidden. One query each time.
function followRuns(url, page, rows, empty) {
  let last = JSON.stringify(page.runs);
  const tick = async () => {
    if (document.visibilityState !== "hidden") {
      try {
        const now = await api(url);
        const text = JSON.stringify(now.runs);
        if (text !== last) {  // drawn again, the reader's focused link (a run, a tag) kept
          const key = rows.contains(document.activeElement) ? focusKey(document.activeElement) : null;
          rows.replaceChildren(...now.runs.map(runRow));
          empty.hidden = now.runs.length > 0;
          refocus(key);
          last = text; page = now;
        }
        connectionBack();
      } catch (e) { connectionLost(e); /* try again on the next tick */ }
    }
    setTimeout(tick, page.runs.some((r) => r.status === "running") ? 2000 : 10000);
  };
  setTimeout(tick, page.runs.some((r) => r.status === "running") ? 2000 : 10000);
}

// -- run page --------------------------------------------------------------------------------

function stepState(state) {
  if (!state) return "pending";
  if (state.failed) return "failed";
  if (state.running) return "running";
  return "succeeded";
}

const DAG_MIN_SCALE = 0.75;

// A name longer than its room (a step called compute_feature_importance_for_every_model in a
// 170 px box) is cut to fit with "…", the whole name its tooltip (a <title> on the box or row),
// so it never runs over its neighbours. Measured in the page: only once the SVG is drawn.
function fitText(node, room, holder) {
  if (!node.isConnected || node.getComputedTextLength() <= room) return;
  const full = node.textContent, chars = Array.from(full);
  let lo = 0, hi = chars.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    node.textContent = `${chars.slice(0, mid).join("")}…`;
    if (node.getComputedTextLength() <= room) lo = mid; else hi = mid - 1;
  }
  node.textContent = `${chars.slice(0, lo).join("")}…`;
  holder.prepend(svg("title", {}, document.createTextNode(shownText(full))));
}

function fitStepNames(run) {
  for (const n of run.layout.nodes) {
    const group = document.querySelector(`#dag g.step[data-step="${CSS.escape(n.name)}"]`);
    if (group) fitText(group.querySelector("text.name"), n.w - 12, group);
  }
}

function drawDag(run, container) {
  const lay = run.layout;
  const picture = svg("svg", { width: lay.width, height: lay.height, viewBox: `0 0 ${lay.width} ${lay.height}`, role: "group", "aria-label": "the run's steps: each links to its tasks" });
  // a wide graph (a split into dozens of branches) shrinks to fit the page only so far that its
  // names stay legible (DAG_MIN_SCALE); wider than that, it scrolls sideways in its own box
  picture.style.minWidth = `${Math.round(lay.width * DAG_MIN_SCALE)}px`;
  picture.append(svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, svg("path", { d: "M 0 0 L 10 5 L 0 10 z" }))));
  const at = Object.fromEntries(lay.nodes.map((n) => [n.name, n]));
  for (const e of lay.edges) {
    const a = at[e.from], b = at[e.to];
    let d;
    if (e.kind === "back") {
      const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x + b.w, y2 = b.y + b.h / 2;
      const bulge = Math.max(x1, x2) + 40;
      d = `M ${x1} ${y1} C ${bulge} ${y1}, ${bulge} ${y2}, ${x2} ${y2}`;
    } else {
      const x1 = a.x + a.w / 2, y1 = a.y + a.h, x2 = b.x + b.w / 2, y2 = b.y;
      const mid = (y1 + y2) / 2;
      d = `M ${x1} ${y1} C ${x1} ${mid}, ${x2} ${mid}, ${x2} ${y2}`;
    }
    const path = svg("path", { d, class: `edge ${e.kind}`, "marker-end": "url(#arrow)", "data-from": e.from, "data-to": e.to });
    picture.append(path);
    if (e.label) {
      picture.append(svg("text", { x: (a.x + b.x + b.w) / 2, y: (a.y + a.h + b.y) / 2, class: "edge-label" }, document.createTextNode(shownText(e.label))));
    }
  }
  for (const n of lay.nodes) {
    const link = svg("a", { href: `${runHref(run.flow, run.run_id)}?step=${enc(n.name)}#tasks` });
    const group = svg("g", { class: "step pending", "data-step": n.name, transform: `translate(${n.x},${n.y})` });
    group.append(svg("rect", { width: n.w, height: n.h, rx: 6 }),
      svg("text", { x: n.w / 2, y: 18, class: "name" }, document.createTextNode(shownText(n.name))),
      svg("text", { x: n.w / 2, y: 35, class: "count" }, document.createTextNode(shownText(n.foreach ? `foreach ${n.foreach}` : ""))));
    link.append(group);
    picture.append(link);
  }
  container.replaceChildren(picture);
}

// The steps a @concurrency limit holds to N tasks at once (the run's kept graph says which):
// "4 running" in a 1,500-task foreach otherwise leaves the reader asking what holds the rest.
function limitsNote(run) {
  const limited = ((run.graph && run.graph.steps) || []).filter((s) => Number.isInteger(s.concurrency));
  if (!limited.length) return [];
  return [el("p", { id: "concurrency-limits", class: "muted" }, "@concurrency: ",
    limited.map((s) => `${shownName(s.name)} runs at most ${plural(s.concurrency, "task")} at once`).join("; "),
    " (and no run more than --max-workers)")];
}

// How long a step took; a step whose tasks were all cloned (a resume's copies) or reused
// (@cache found their results) did not run again (its span is the copying's), so it says so
// rather than pass for fast.
function stepTook(s) {
  const took = duration(s.started_at, s.finished_at);
  return s.cloned && s.cloned === s.tasks ? `${took}, cloned` : s.cached && s.cached === s.tasks ? `${took}, reused from @cache` : took;
}

// Tasks of a step that did not run in this run: a resume's clones and @cache's reuses.
function copiedParts(state) {
  const parts = [];
  if (state.cloned) parts.push(state.cloned === state.tasks ? "cloned" : `${state.cloned} cloned`);
  if (state.cached) parts.push(state.cached === state.tasks ? "reused from @cache" : `${state.cached} reused from @cache`);
  return parts;
}

// A step no task reached is "pending" while the run goes on and "not run" once it is over
// (after a failure upstream): grey either way, but a finished run's page says which.
function paintDag(run, steps, status, widths) {
  for (const group of document.querySelectorAll("#dag g.step")) {
    const name = group.dataset.step;
    const state = steps[name];
    const said = state || status === "running" ? stepState(state) : "not run";
    group.setAttribute("class", `step ${stepState(state)}`);
    const node = run.layout.nodes.find((n) => n.name === name);
    const count = group.querySelector("text.count");
    if (state) {
      const width = (widths || {})[name];  // a foreach's size, once known: "152 of 300 tasks"
      const parts = [width && width !== state.tasks ? `${state.tasks} of ${width} tasks` : `${state.tasks} task${state.tasks === 1 ? "" : "s"}`];
      if (state.running) parts.push(`${state.running} running`);
      if (state.failed) parts.push(`${state.failed} failed`);
      parts.push(...copiedParts(state));
      count.textContent = parts.join(" · ");
    } else if (status !== "running") {
      count.textContent = "not run";
    } else if (node) {
      count.textContent = node.foreach ? `foreach ${node.foreach}` : "";
    }
    // what a screen reader says for the step's link (an SVG text is not read as its name)
    group.parentNode.setAttribute("aria-label", `step ${name}: ${said}${count.textContent && count.textContent !== said ? `, ${count.textContent}` : ""}`);
  }
}

// A timeline is drawn to the width its box has (bars up to 600 px, a label column of 140, or
// 90 on a phone): drawn at 820 px and scaled down to a phone's 355, its 12 px labels were 5 px
// specks. Below 120 px of bars it would say nothing: the picture is scaled down from there.
function timelineRoom(container) {
  const room = container.clientWidth || 820;
  const label = room < 500 ? 90 : 140;
  return { label, width: Math.max(120, Math.min(600, room - label - 80)) };
}

function drawTimeline(run, steps, container) {
  const names = run.layout.nodes.map((n) => n.name).filter((n) => steps[n]);
  if (!names.length) { container.replaceChildren(el("p", { class: "muted", text: "No task started yet." })); return; }
  const start = Math.min(...names.map((n) => steps[n].started_at));
  const end = Math.max(...names.map((n) => steps[n].finished_at || serverNow()), start + 0.001);
  const { width, label } = timelineRoom(container), row = 22;
  const picture = svg("svg", { width: label + width + 80, height: names.length * row + 10, viewBox: `0 0 ${label + width + 80} ${names.length * row + 10}`, role: "img",
    "aria-label": names.map((n) => `${n} ${stepState(steps[n])} ${stepTook(steps[n])}`).join(", ") });
  names.forEach((name, i) => {
    const s = steps[name];
    const x = label + ((s.started_at - start) / (end - start)) * width;
    const w = Math.max(2, (((s.finished_at || end) - s.started_at) / (end - start)) * width);
    picture.append(svg("text", { x: 0, y: i * row + 15, class: "tl-label", "data-label": name }, document.createTextNode(shownText(name))),
      svg("rect", { x, y: i * row + 4, width: w, height: row - 8, class: `bar ${stepState(s)}`, "data-step": name }),
      svg("text", { x: x + w + 4, y: i * row + 15, class: "tl-label" }, document.createTextNode(shownText(stepTook(s)))));
  });
  container.replaceChildren(picture);
  fitLabels(picture, label - 8);
}

// Timeline labels: each cut to its column when too long, in a group carrying its full name.
function fitLabels(picture, room) {
  for (const text of picture.querySelectorAll("text[data-label]")) {
    if (text.textContent.length < 16) continue;  // short enough whatever the font: no measuring
    const group = svg("g");
    text.replaceWith(group);
    group.append(text);
    fitText(text, room, group);
  }
}

function drawTaskTimeline(run, tasks, container) {
  const list = [...tasks.values()].filter((t) => t.created_at);
  if (!list.length) { container.replaceChildren(); return; }
  const ended = (t) => t.finished_at || (t.interrupted ? run.stopped_at : null);
  const start = Math.min(...list.map((t) => t.created_at));
  const end = Math.max(...list.map((t) => ended(t) || serverNow()), start + 0.001);
  const { width, label } = timelineRoom(container), row = 14;
  const picture = svg("svg", { width: label + width + 80, height: list.length * row + 6, viewBox: `0 0 ${label + width + 80} ${list.length * row + 6}`, role: "group", "aria-label": "the listed tasks over time" });
  list.forEach((t, i) => {
    const x = label + ((t.created_at - start) / (end - start)) * width;
    const w = Math.max(2, (((ended(t) || end) - t.created_at) / (end - start)) * width);
    // a bar is a link for the mouse; the Tab key skips it (the task list below has the same
    // link): else a page of 100 tasks put 100 stops between the graph and the task list
    const link = svg("a", { href: taskHref(run.flow, run.run_id, t.step, t.task_id), tabindex: "-1", "aria-label": `${t.step}/${t.task_id} ${t.status} ${duration(t.created_at, t.finished_at)}` });
    link.append(svg("text", { x: 0, y: i * row + 11, class: "tl-label", "data-label": "" }, document.createTextNode(shownName(`${t.step}/${t.task_id}`))),
      svg("rect", { x, y: i * row + 3, width: w, height: row - 5, class: `bar ${t.status}`, "data-task": `${t.step}/${t.task_id}` }));
    picture.append(link);
  });
  container.replaceChildren(picture);
  fitLabels(picture, label - 8);
}

// In a resumed run, a task that did not run again says so, linking to the task it was
// cloned from (its start and duration are the clone's, not the work's); a task @cache reused
// says "reused", linking to the task whose result it is.
function cloned(t) {
  if (!t.origin_pathspec) return [];
  const [oFlow, oRun, oStep, oTask] = t.origin_pathspec.split("/");
  return [" ", el("a", { href: taskHref(oFlow, oRun, oStep, oTask), class: "cloned",
    title: `${t.cached ? "@cache reused the result of" : "cloned from"} ${t.origin_pathspec}`, text: t.cached ? "reused" : "cloned" })];
}

// A task left running by a killed run reads as failed; it says why it has no error.
function interruptedNote(t) {
  const why = t.task_id ? "its run was stopped (its scheduler killed) while it ran" : "its scheduler was killed (or its machine lost) before it finished";
  return t.interrupted ? [" ", el("span", { class: "muted interrupted", title: why, text: "interrupted" })] : [];
}

// A task whose step raised and @catch caught it: the flow went on, but the step did not succeed
// (the client's task.successful is False); its first attempt holds the error.
function caughtNote(t) {
  return t.caught ? [" ", el("span", { class: "caught", title: "its step raised and @catch caught it: the flow went on; task.successful is False", text: "caught" })] : [];
}

function taskRow(run, t) {
  return el("tr", { "data-task": `${t.step}/${t.task_id}` },
    el("td", {}, el("a", { href: taskHref(run.flow, run.run_id, t.step, t.task_id), text: shownName(`${t.step}/${t.task_id}`) })),
    el("td", {}, badge(t.status), ...caughtNote(t), ...cloned(t), ...interruptedNote(t)),
    el("td", { "data-label": "index", text: t.foreach_index === null ? "-" : String(t.foreach_index) }),
    el("td", { "data-label": "started" }, stamp(t.created_at)),
    durationEl("td", t.created_at, t.finished_at, t.status === "running", { "data-label": "took" }),
    el("td", { "data-label": "attempts", text: String(t.attempts) }));
}

// A live page's task list is read again at most this often (it is one query each time).
const REREAD_MS = 1000;

// The task list's sortable columns (the API sorts across every page: ?sort=NAME&order=asc|desc).
const TASK_SORTS = ["task", "status", "index", "started", "duration", "attempts"];

// A column header that sorts the list by its column: a button (reached by the Tab key) that
// reloads the page with the order in its address, so a link or a reload keeps it. The sorted
// column carries aria-sort; a second click turns the order round. Sorting starts from page 1.
function sortHeader(name, sort, order) {
  if (!TASK_SORTS.includes(name)) return el("th", { text: name });
  const next = name === sort && order === "asc" ? "desc" : "asc";
  const button = el("button", { type: "button", class: "sort", "data-sort": name,
    title: `sort by ${name}, ${next === "asc" ? "ascending" : "descending"}` }, name,
    name === sort ? el("span", { "aria-hidden": "true", text: order === "asc" ? " ▲" : " ▼" }) : null);
  button.addEventListener("click", () => {
    const q = new URLSearchParams(location.search);
    q.delete("offset");
    q.set("sort", name);
    q.set("order", next);
    location.assign(`${location.pathname}?${q}#tasks`);
  });
  return el("th", { "aria-sort": name === sort ? (order === "asc" ? "ascending" : "descending") : null }, button);
}

// The run page's way to a comparison: the flow's other recent runs in a menu, the run this one
// was resumed from (else the one before it) chosen; a plain GET form, so it works as a link does.
function compareForm(flow, runId, origin, runs) {
  const choices = runs.filter((r) => r.run_id !== runId);
  if (!choices.length) return null;
  const mine = runs.findIndex((r) => r.run_id === runId);
  const before = origin || (mine >= 0 && runs[mine + 1] ? runs[mine + 1].run_id : choices[0].run_id);
  const select = el("select", { id: "compare-with", name: "b", "aria-label": "compare with run" },
    ...choices.map((r) => el("option", { value: r.run_id, selected: r.run_id === before ? "" : null, text: `${shownName(r.run_id)} (${r.status}, ${when(r.created_at)})` })));
  return el("form", { method: "get", action: `/compare/${enc(flow)}/${enc(runId)}`, class: "compare-form" },
    select, " ", el("button", { type: "submit", id: "compare-go", text: "compare" }));
}

const TASK_STATUSES = ["running", "succeeded", "failed", "caught"];
const FAILURES_SHOWN = 10;  // as the server names a run's failed tasks: the first ten
async function runPage() {
  const flow = app.dataset.flow, runId = app.dataset.runId;
  const query = new URLSearchParams(location.search);
  const step = query.get("step") || "";
  // caught: tasks whose step raised and @catch caught it (succeeded records; the server filters)
  const only = TASK_STATUSES.includes(query.get("status")) ? query.get("status") : "";
  const inList = (t) => (only === "caught" ? Boolean(t.caught) : t.status === only);
  const offset = Math.max(0, parseInt(query.get("offset") || "0", 10) || 0);
  const sort = TASK_SORTS.includes(query.get("sort")) ? query.get("sort") : "";
  const order = sort && query.get("order") === "desc" ? "desc" : "asc";
  const limit = 100;
  crumbs([flow, `/flows/${enc(flow)}`], [runId, null]);
  const base = `/api/runs/${enc(flow)}/${enc(runId)}`;
  const params = new URLSearchParams({ limit, offset });
  if (step) params.set("step", step);
  if (only) params.set("status", only);
  if (sort) { params.set("sort", sort); params.set("order", order); }
  const [run, page, others] = await Promise.all([api(base), api(`${base}/tasks?${params}`),
    api(`/api/runs?${new URLSearchParams({ flow, limit: 50 })}`).catch(() => null)]);
  // the run's tasks whose step raised and @catch caught it: succeeded records, so no failure
  // shows them, yet each is an error a reader came to find (a 1,000-task foreach hid one). One
  // indexed query (meta's tasks_caught), so a running run is asked too
  const askCaught = () => api(`${base}/tasks?${new URLSearchParams({ status: "caught", limit: FAILURES_SHOWN })}`).catch(() => null);
  const caught = await askCaught();
  for (const feed of feeds) feed.stop();  // drawn afresh: the last drawing's following ends

  const facts = el("dl", { class: "facts" });
  const fact = (k, v) => facts.append(el("dt", { text: k }), el("dd", {}, v));
  const statusBadge = badge(run.status);
  statusBadge.id = "run-status";
  fact("status", statusBadge);
  fact("user", shownName(run.user));
  fact("started", stamp(run.created_at));
  const took = durationEl("span", run.created_at, run.finished_at || run.stopped_at, run.status === "running", { id: "run-duration" });
  fact("duration", took);
  fact("tags", tagLinks(run.tags));
  fact("system tags", run.system_tags.map(shownName).join(", ") || "-");
  if (run.origin_run_id) fact("resumed from", el("a", { href: runHref(flow, run.origin_run_id), id: "origin", text: shownName(`${flow}/${run.origin_run_id}`) }));
  const compare = compareForm(flow, runId, run.origin_run_id, others ? others.runs : []);
  if (compare) fact("compare", compare);

  const params_ = el("table", { id: "parameters", "aria-label": "parameters" }, el("thead", {}, el("tr", {}, el("th", { text: "parameter" }), el("th", { text: "value" }))));
  const pbody = el("tbody");
  for (const [k, v] of Object.entries(run.parameters)) pbody.append(el("tr", {}, el("td", { text: k }), el("td", {}, el("code", { text: v ?? "(large)" }))));
  params_.append(pbody);

  const dag = el("div", { id: "dag", role: "group", "aria-label": "graph" });
  drawDag(run, dag);
  const timeline = el("div", { id: "timeline" });

  const tbody = el("tbody");
  const shown = new Map(page.tasks.map((t) => [`${t.step}/${t.task_id}`, t]));
  for (const t of page.tasks) tbody.append(taskRow(run, t));
  const taskTimeline = el("div", { id: "task-timeline", role: "group", "aria-label": "timeline of the listed tasks" });
  // the task list's filters: a step, a status (each kept when the other changes), from page 1
  const listHref = (s, st) => {
    const q = new URLSearchParams();
    if (s) q.set("step", s);
    if (st) q.set("status", st);
    if (sort) { q.set("sort", sort); q.set("order", order); }
    return `${runHref(flow, runId)}${q.toString() ? `?${q}` : ""}#tasks`;
  };
  const stepPicker = el("p", { class: "step-picker" }, "step: ", el("a", { href: listHref("", only), class: step ? "" : "current", text: "all" }));
  for (const n of run.layout.nodes) stepPicker.append(" ", el("a", { href: listHref(n.name, only), class: n.name === step ? "current" : "", text: shownName(n.name) }));
  const statusPicker = el("p", { class: "status-picker" }, "status: ", el("a", { href: listHref(step, ""), class: only ? "" : "current", text: "any" }));
  for (const st of TASK_STATUSES) statusPicker.append(" ", el("a", { href: listHref(step, st), class: st === only ? "current" : "", text: st }));
  const pager = el("p", { class: "pager" });
  const link = (o) => { const q = new URLSearchParams(location.search); q.set("offset", o); return `${location.pathname}?${q}#tasks`; };
  const countOf = (s) => (s ? (only ? s[only] || 0 : s.tasks) : 0);
  const counted = (steps) => step ? countOf(steps[step]) : Object.values(steps).reduce((n, s) => n + countOf(s), 0);
  // "tasks 101–200 of 5003" and the links around it, drawn again as a live run grows
  const drawPager = (steps, more) => {
    const rows = tbody.children.length;
    const total = rows ? Math.max(counted(steps), offset + rows) : counted(steps);
    pager.replaceChildren();
    if (rows) pager.append(el("span", { id: "tasks-range", text: `tasks ${offset + 1}–${offset + rows} of ${total}` }), " ");
    else {  // an empty page says why: nothing yet, nothing at all, or a page past the end
      const live = statusBadge.textContent === "running";
      const whose = step ? `step ${step}` : "this run";
      const which = only ? `${only} task` : "task";
      const text = !total ? `${whose} has no ${which}s${live ? " yet" : ""}.`
        : `No tasks on this page: ${whose} has ${total} ${which}${total === 1 ? "" : "s"}${live ? " so far" : ""}.`;
      pager.append(el("span", { id: "tasks-none", text }), " ");
      if (offset > 0) pager.append(el("a", { href: link(0), text: "first page" }), " ");
    }
    if (offset > 0) pager.append(el("a", { href: link(Math.max(0, offset - limit)), rel: "prev", text: "← previous" }), " ");
    if (more || offset + rows < total) pager.append(el("a", { href: link(offset + limit), rel: "next", text: "next →" }));
  };
  const newTasks = el("p", { id: "new-tasks", class: "notice", hidden: true, role: "status" });
  const tasks = el("table", { id: "tasks-table", "aria-label": "tasks" },
    el("thead", {}, el("tr", {}, ...["task", "status", "index", "started", "duration", "attempts"].map((h) => sortHeader(h, sort, order)))), tbody);

  let failures = null;
  if (run.failures.length) {
    failures = el("section", { id: "failures", class: "failures" }, el("h2", { text: "Failed tasks" }));
    const list = el("ul");
    for (const t of run.failures) {
      const error = t.failure ? `${t.failure.type}: ${plain(t.failure.message)}` : "failed";
      list.append(el("li", {}, el("a", { href: taskHref(flow, runId, t.step, t.task_id), text: shownName(`${t.step}/${t.task_id}`) }), " ", el("span", { class: "error", text: error })));
    }
    const failedCount = Object.values(run.steps).reduce((n, s) => n + (s.failed || 0), 0);
    failures.append(list);
    if (failedCount > run.failures.length) failures.append(el("p", { class: "muted" }, `${failedCount - run.failures.length} more failed: `, el("a", { id: "all-failed", href: listHref("", "failed"), text: `list all ${failedCount} failed tasks` })));
  }

  // the caught list, in a box of its own: while the run goes on it is asked again when a task
  // @catch caught shows up (the live tasks say so), and says "so far"
  const caughtKeys = new Set();
  const caughtList = el("div", { id: "caught-box" });
  const drawCaught = (found, live) => {
    caughtKeys.clear();
    for (const t of (found && found.tasks) || []) caughtKeys.add(`${t.step}/${t.task_id}`);
    caughtList.replaceChildren(...(found && found.tasks.length ? [el("section", { id: "caught", class: "failures" },
      el("h2", { text: live ? "Errors @catch caught so far" : "Errors @catch caught" }),
      el("ul", {}, ...found.tasks.map((t) => el("li", {}, el("a", { href: taskHref(flow, runId, t.step, t.task_id), text: shownName(`${t.step}/${t.task_id}`) }), " ",
        ...(t.failure ? [el("span", { class: "error", text: `${t.failure.type}: ${plain(t.failure.message)}` }), " "] : []),
        el("span", { class: "muted", text: t.failure ? "— @catch caught it and the run went on" : "raised; @catch caught it and the run went on" })))),
      el("p", {}, el("a", { id: "all-caught", href: listHref("", "caught"), text: found.more ? "list every task @catch caught" : "list them below" })))] : []));
  };
  drawCaught(caught, run.status === "running");

  // a run whose scheduler was killed says so: nobody recorded its end
  const interrupted = run.interrupted ? el("p", { id: "interrupted", class: "notice", role: "status" },
    "This run stopped without finishing: its scheduler was killed (or its machine lost). It was last seen alive at ",
    stamp(run.stopped_at), "; the tasks it left running are marked failed, interrupted.") : null;

  // a run that ran to its end yet reads failed: its end step failed and @catch caught it
  const ce = run.caught_end;
  const caughtEnd = ce ? el("section", { id: "caught-end", class: "failures" },
    el("h2", { text: "Caught failure of the end step" }),
    el("p", {}, "The end step failed and @catch caught it: the run finished, but it did not succeed (as in Metaflow, where run.successful is False). ",
      el("a", { href: taskHref(flow, runId, ce.step, ce.task_id), text: `${ce.step}/${ce.task_id}` }), " ",
      el("span", { class: "error", text: ce.failure ? `${ce.failure.type}: ${plain(ce.failure.message)}` : "raised" }))) : null;

  const firstDraw = app.dataset.drawn !== "true";
  app.dataset.drawn = "true";
  redraw(el("h1", { text: shownName(`${flow}/${runId}`) }), facts, ...(interrupted ? [interrupted] : []), ...(failures ? [failures] : []), ...(caughtEnd ? [caughtEnd] : []), caughtList,
    el("h2", { text: "Graph" }), dag, ...limitsNote(run),
    el("h2", { text: "Timeline" }), timeline,
    el("h3", { text: "Tasks listed below" }), taskTimeline,
    el("h2", { text: "Parameters" }), Object.keys(run.parameters).length ? scrolled(params_) : el("p", { class: "muted", text: "none" }),
    el("h2", { id: "tasks", text: "Tasks" }), stepPicker, statusPicker, newTasks, scrolled(tasks), pager);
  drawPager(run.steps, page.more);
  let steps = run.steps;
  paintDag(run, run.steps, run.status, run.foreach_widths);
  drawTimeline(run, run.steps, timeline);
  drawTaskTimeline(run, shown, taskTimeline);
  // an address ending #tasks opens at the tasks; a redraw (the run ended) leaves the window be
  if (firstDraw && location.hash === "#tasks") document.getElementById("tasks").scrollIntoView();
  fitStepNames(run);
  // a graph wider than its box opens with its first step (start) in view, in the middle
  const first = run.layout.nodes[0];
  if (firstDraw && first && dag.scrollWidth > dag.clientWidth) {
    const scale = dag.firstElementChild.getBoundingClientRect().width / run.layout.width;
    dag.scrollLeft = (first.x + first.w / 2) * scale - dag.clientWidth / 2;
  }

  if (run.status !== "running") return;
  // a task newly caught (or, polled, any time): the caught list asked again, one ask at a time
  let askingCaught = false, askCaughtAgain = false;
  const recheckCaught = async () => {
    if (askingCaught) { askCaughtAgain = true; return; }
    askingCaught = true;
    askCaughtAgain = false;
    const found = await askCaught();
    if (found && statusBadge.textContent === "running") drawCaught(found, true);
    askingCaught = false;
    if (askCaughtAgain) recheckCaught();
  };
  // New tasks, in registration order, land on whichever page has room for them: while this
  // page is not full and the run holds more tasks than it lists, it is read again (one query,
  // never two at once). Tasks that go on a later page are counted in a notice linking there.
  const openedWith = counted(steps);
  // The page read again is drawn in place: a row whose task did not change stays the same
  // element (only moved if the order moved it), so nothing flickers, the window keeps its
  // scroll position and a focused link keeps the focus.
  const placeRows = (list) => {
    const focused = tbody.contains(document.activeElement) ? document.activeElement : null;
    const old = new Map([...tbody.children].map((tr) => [tr.dataset.task, tr]));
    const want = list.map((t) => {
      const key = `${t.step}/${t.task_id}`;
      const row = old.get(key);
      return row && JSON.stringify(shown.get(key)) === JSON.stringify(t) ? row : taskRow(run, t);
    });
    want.forEach((row, i) => { if (tbody.children[i] !== row) tbody.insertBefore(row, tbody.children[i] || null); });
    while (tbody.children.length > want.length) tbody.lastElementChild.remove();
    // a link moved with its row loses the focus: the Tab key goes on from where it was
    if (focused && focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
    shown.clear();
    for (const t of list) shown.set(`${t.step}/${t.task_id}`, t);
  };
  // One read at a time, never more often than every REREAD_MS: a sorted page of a big foreach
  // is re-read as its tasks start and end, and each read sorts the whole list on the server.
  let reading = false, readAgain = false, lastRead = 0;
  const refill = async () => {
    if (reading) { readAgain = true; return; }
    reading = true;
    const wait = lastRead + REREAD_MS - Date.now();
    if (wait > 0) await new Promise((done) => setTimeout(done, wait));
    lastRead = Date.now();
    readAgain = false;
    try {
      const now = await api(`${base}/tasks?${params}`);
      placeRows(now.tasks);
      drawTaskTimeline(run, shown, taskTimeline);
      drawPager(steps, now.more);
    } catch (e) { /* the server is away for a moment: the next event tries again */ }
    reading = false;
    if (readAgain) refill();
  };
  const follow = () => {
    const total = counted(steps);
    if (tbody.children.length < limit && total > offset + tbody.children.length) refill();
    const later = total - Math.max(openedWith, offset + limit);
    if (later > 0 && !sort) {  // a sorted list has no "later pages" new tasks go to
      const last = Math.floor((total - 1) / limit) * limit;
      newTasks.replaceChildren(`${later} new task${later === 1 ? "" : "s"} since this page opened, on ${last > offset + limit ? "later pages" : "the next page"}: `,
        el("a", { href: link(last), text: `tasks ${last + 1}–${total}` }));
      newTasks.hidden = false;
    }
  };
  const onRun = (head) => {
    statusBadge.className = `status ${head.status}`;
    statusBadge.textContent = head.status;
    setDuration(took, head.created_at, head.finished_at || head.stopped_at, head.status === "running");
    paintDag(run, head.steps, head.status, head.foreach_widths);
    drawTimeline(run, head.steps, timeline);
    steps = head.steps;
    drawPager(steps, false);
    follow();
  };
  const onTasks = (list) => {
    if (list.some((t) => t.caught && !caughtKeys.has(`${t.step}/${t.task_id}`))) recheckCaught();
    const changed = list.filter((t) => !step || t.step === step);
    // A sorted list: a task that started or ended may belong anywhere in the order, on this
    // page or off it, so the page is read again (the server sorts; it stays one page).
    if (sort && changed.length) { refill(); return; }
    for (const t of changed) {
      const existing = tbody.querySelector(`tr[data-task="${CSS.escape(`${t.step}/${t.task_id}`)}"]`);
      if (!existing) continue;  // on another page, or new: follow() reads this page again
      if (only && !inList(t)) { refill(); continue; }  // it left this list
      // the reader on this row (its link focused) keeps the focus on the row drawn for it
      const key = existing.contains(document.activeElement) ? focusKey(document.activeElement) : null;
      existing.replaceWith(taskRow(run, t));
      refocus(key);
      shown.set(`${t.step}/${t.task_id}`, t);
    }
    drawTaskTimeline(run, shown, taskTimeline);
    drawPager(steps, false);
    follow();
  };
  // the run is over: draw the page afresh (its failures, its last tasks, final durations); a
  // run deleted meanwhile is said to be gone, the page as it was left below the notice
  const again = () => runPage().catch((e) => (isGone(e) ? gone(flow, runId) : fail(e)));
  let streamed = 0;  // streams opened by this drawing of the page
  const listen = () => {
    const source = openStream(`${base}/events`);
    // a stream opened again (the server was away, the tab hidden or polling): what changed
    // meanwhile may be older than what a new stream sends first, so this page's tasks are read again
    const caughtUp = streamed++ > 0;
    let opened = false;
    source.addEventListener("run", (event) => onRun(JSON.parse(event.data)));
    source.addEventListener("tasks", (event) => onTasks(JSON.parse(event.data)));
    source.addEventListener("end", again);
    source.addEventListener("open", () => {
      if (opened || caughtUp) { connectionBack(); refill(); }
      opened = true;
    });
    // the stream refused when the browser reconnected (the server was away while the run was
    // deleted): the browser will not try again, so ask the API what became of the run
    source.addEventListener("error", () => {
      if (source.ended || pageGone) return;
      if (source.readyState === EventSource.CONNECTING) { connectionLost(); return; }
      if (source.readyState !== EventSource.CLOSED) return;
      streams.delete(source);
      again();
    });
    return source;
  };
  // without a stream (another tab holds the slots, or this one was hidden): the run's summary
  // and this page's tasks read again, every few seconds
  const poll = async () => {
    let head;
    try { head = await api(base); } catch (e) {
      if (isGone(e)) { gone(flow, runId); return false; }
      connectionLost(e);
      return true;
    }
    connectionBack();
    if (head.status !== "running") { again(); return false; }
    streamed++;
    onRun(head);
    refill();
    recheckCaught();
    return true;
  };
  liveFeed(listen, poll);
}

// An event stream that stays closed after its "end" event. The server ends the response right
// after sending "end"; the stream is closed once that close arrives (the "error" EventSource
// fires then), not before: closing it at "end" would abort a response that is finishing.
function openStream(url) {
  const source = new EventSource(url);
  source.ended = false;
  source.addEventListener("end", () => { source.ended = true; streams.delete(source); });
  source.addEventListener("error", () => { if (source.ended) source.close(); });
  streams.add(source);
  return source;
}

// The streams the page follows and that have not ended. A running task's page is drawn afresh
// when it starts another attempt (a @retry) or gains a card, and opens its log streams again:
// the old ones are closed first. Left open, they would follow the task to its end, two more for
// each attempt, and past six (the browser's limit of connections to one server) every request
// of the page would wait behind them: the page would stop following the task.
const streams = new Set();
const feeds = new Set();
function closeStreams() {
  for (const feed of feeds) feed.stop();
  feeds.clear();
  for (const source of streams) source.close();
  streams.clear();
}

// -- sharing the browser's six connections between tabs ------------------------------------------
// A browser opens at most six HTTP/1.1 connections to one server, for all its tabs, and an event
// stream holds one for as long as it is open: six tabs following live runs held them all, and a
// seventh page, log or card waited forever. So a live page streams only while it holds one of
// STREAM_SLOTS slots, Web Locks every tab of this server shares (a lock is let go when its tab
// closes or navigates away); without a slot it polls every POLL_MS (short requests, which queue
// behind nothing), and takes a slot as soon as one is free. A hidden tab neither streams nor
// polls: it gives its slot to the tabs in view, and reads what changed when it is shown again.
// A browser without Web Locks (a page served over plain http to another machine is no secure
// context) streams in each visible tab, as before.
const STREAM_SLOTS = 4;
const POLL_MS = 3000;

function takeSlot() {
  if (!navigator.locks) return Promise.resolve(() => {});
  return (async () => {
    for (let i = 0; i < STREAM_SLOTS; i++) {
      const release = await new Promise((resolve) => {
        navigator.locks.request(`headwater-stream-${i}`, { ifAvailable: true }, (lock) => {
          if (!lock) { resolve(null); return undefined; }
          return new Promise((done) => resolve(done));  // held until done() is called
        }).catch(() => resolve(null));
      });
      if (release) return release;
    }
    return null;
  })();
}

// Follows something live: open() opens (and listens to) an event stream, poll() reads what
// changed once (it returns false once there is nothing more to follow). Stopped when the page
// is drawn afresh, leaves, or what it follows is over (finish()).
function liveFeed(open, poll) {
  let source = null, release = null, timer = null, stopped = false, taking = false;
  const feed = { mode: "idle" };
  const drop = () => {
    clearTimeout(timer); timer = null;
    if (source) { if (!source.ended) source.close(); streams.delete(source); source = null; }
    if (release) { release(); release = null; }
  };
  const pollSoon = (ms) => { clearTimeout(timer); timer = setTimeout(tick, ms); };
  const tryStream = async () => {
    if (taking || stopped) return;
    taking = true;
    const got = await takeSlot();
    taking = false;
    if (!got) { feed.mode = "polling"; pollSoon(POLL_MS); return; }
    if (stopped || document.visibilityState === "hidden" || source) { got(); return; }
    release = got;
    clearTimeout(timer); timer = null;
    feed.mode = "streaming";
    source = open();
    source.addEventListener("end", () => finish());
  };
  const tick = async () => {
    timer = null;
    if (stopped || document.visibilityState === "hidden") return;
    let more = true;
    try { more = await poll(); } catch (e) { /* poll() says what went wrong itself */ }
    if (stopped) return;
    if (more === false) { finish(); return; }
    tryStream();
  };
  const finish = () => {  // over: the stream's "end", or a poll that found it ended
    stopped = true;
    if (release) { release(); release = null; }
    clearTimeout(timer);
    feeds.delete(feed);
    document.removeEventListener("visibilitychange", seen);
    feed.mode = "ended";
  };
  const seen = () => {
    if (stopped) return;
    if (document.visibilityState === "hidden") { drop(); feed.mode = "hidden"; return; }
    if (!source && !taking) { feed.mode = "polling"; pollSoon(0); }  // catch up, then stream
  };
  feed.stop = () => { drop(); finish(); };
  document.addEventListener("visibilitychange", seen);
  feeds.add(feed);
  if (document.visibilityState === "hidden") feed.mode = "hidden"; else tryStream();
  return feed;
}

// -- task page -------------------------------------------------------------------------------

// Terminal escapes (colours, cursor moves, titles, hyperlinks) are dropped from what a log or an
// error shows: the page draws text only, and "ESC[31m" is noise there.
const ESCAPES = /\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]/g;
function plain(text) { return text == null ? text : String(text).replace(ESCAPES, ""); }
// An escape a followed log's chunk ends inside of (the task's output is read as it comes): kept
// back and put before the next chunk, so neither half shows as text. A dangling OSC is kept for
// at most 4 KiB (a title or a link; anything longer is no escape worth waiting for).
const OPEN_ESCAPE = /(?:\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]{0,4096}\x1b?)?|\x9b[0-?]*[ -/]*)$/;
function plainChunks() {
  let carry = "";
  return (text) => {
    const joined = carry + text;
    const open = joined.match(OPEN_ESCAPE);
    const cut = open && open[0] ? joined.length - open[0].length : joined.length;
    carry = joined.slice(cut);
    return plain(joined.slice(0, cut));
  };
}

// A carriage return without a line feed rewrites its line (tqdm and other progress bars): a
// line shows as a terminal leaves it, its last state, not every state run together. A line
// ending "\r\n" (Windows) is that line. Linear in the text: no pattern that backtracks.
function settleLine(line) {
  let end = line.length;
  while (end > 0 && line[end - 1] === "\r") end--;
  return line.slice(line.lastIndexOf("\r", end - 1) + 1, end);
}
function settled(text) {
  return text.includes("\r") ? text.split("\n").map((line) => (line.includes("\r") ? settleLine(line) : line)).join("\n") : text;
}

// A followed log drawn as it comes: the lines that ended, and the line still being written (a
// progress bar rewriting itself), drawn again as it changes. Only its last state is kept.
function liveLog(pre) {
  let open = "", node = null;
  return (text) => {
    const joined = open + text;
    const cut = joined.lastIndexOf("\n");
    if (cut !== -1) {
      if (node) node.remove();
      pre.append(settled(joined.slice(0, cut + 1)));
      node = null;
    }
    open = joined.slice(cut + 1);
    // the line so far holds its last state or two ("a\rb\r" waits to be written over)
    const last = open.lastIndexOf("\r", open.length - 2);
    if (last > 0) open = open.slice(last);
    if (!node) { node = document.createTextNode(""); pre.append(node); }
    node.data = settleLine(open);
  };
}

// A finished attempt's log is read once, its last MiB at most (a link gives all of it); a
// running one's is followed as it grows, from its last MiB.
const LOG_TAIL = 1 << 20;

function logCut(base, stream, pre, shown, total) {
  if (total <= shown) return;
  pre.before(el("p", { class: "muted log-cut", id: `${stream}-cut` },
    `Showing the last ${size(shown)} of ${size(total)}: `,
    el("a", { href: `${base}/logs/${stream}`, text: "the whole log" })));
}

async function showLog(base, stream, pre, state, attempt) {
  const which = attempt === null || attempt === undefined ? "" : `&attempt=${attempt}`;
  const response = await fetched(`${base}/logs/${stream}?tail=${LOG_TAIL}${which}`);
  if (!response.ok) { logError(stream, pre, state, await refusal(response)); return; }
  const raw = await response.text();
  logCut(base, stream, pre, new TextEncoder().encode(raw).length, Number(response.headers.get("x-headwater-log-size")) || 0);
  const text = settled(plain(raw));
  pre.textContent = text || "(no output)";
  pre.classList.toggle("empty", !text);
  pre.scrollTop = pre.scrollHeight;  // a log opens at its end, where a failure's last words are
  state.textContent = "complete";
}

// A log that cannot be read (its blob deleted, damaged) says so where the log would be: what is
// missing and what to do, as the server names them.
function logError(stream, pre, state, message) {
  state.textContent = "cannot read";
  document.getElementById(`${stream}-error`)?.remove();
  pre.before(el("p", { class: "error log-error", id: `${stream}-error`, role: "alert", text: `Cannot read ${stream}: ${message}` }));
  pre.textContent = "(not available)";
  pre.classList.add("empty");
}

// A log the reader has scrolled to its end stays there as it grows (as `tail -f` does); one the
// reader scrolled up in stays put.
function atEnd(pre) { return pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24; }

// Both logs of a running task are followed through one event stream (each event names its
// log): a browser opens at most six connections to one server, and a page holding two for its
// logs left three task pages all a seventh tab could wait for, forever.
function followLogs(base, shown) {
  const logs = new Map(shown.map((log) => [log.stream, { ...log, done: false }]));
  // a stream (re)opened sends both logs whole so far: start over rather than repeat them
  const restart = (log) => { log.pre.textContent = ""; log.chunk = plainChunks(); log.draw = liveLog(log.pre); log.done = false; };
  for (const log of logs.values()) restart(log);
  const listen = () => {
    const source = openStream(`${base}/logs/events`);
    const on = (name, handle) => source.addEventListener(name, (event) => {
      const data = JSON.parse(event.data || "{}");
      const log = logs.get(data.stream);
      if (log) handle(log, data);
    });
    source.addEventListener("open", () => {
      connectionBack();
      for (const log of logs.values()) { log.state.textContent = "following"; restart(log); }
    });
    on("reset", restart);
    on("skipped", (log, skipped) => {
      document.getElementById(`${log.stream}-cut`)?.remove();
      logCut(base, log.stream, log.pre, skipped.size - skipped.bytes, skipped.size);
    });
    on("log", (log, data) => {
      const following = atEnd(log.pre);
      log.draw(log.chunk(data.text));
      log.pre.classList.remove("empty");
      if (following) log.pre.scrollTop = log.pre.scrollHeight;
    });
    on("done", (log, data) => {  // this log is final, or cannot be read (the other goes on)
      log.done = true;
      if (data.error) { logError(log.stream, log.pre, log.state, data.fix ? `${data.error}. Fix: ${data.fix}` : data.error); return; }
      if (!log.pre.textContent) log.pre.textContent = "(no output)";
      log.state.textContent = "complete";
    });
    source.addEventListener("end", (event) => {  // with an error: reading the task failed
      const end = JSON.parse(event.data || "{}");
      if (!end.error) return;
      for (const log of logs.values()) if (!log.done) logError(log.stream, log.pre, log.state, end.fix ? `${end.error}. Fix: ${end.fix}` : end.error);
    });
    source.addEventListener("error", () => {
      if (source.ended) return;
      const open = [...logs.values()].filter((log) => !log.done);
      // refused outright (an answer that is no stream): the browser will not try again, so each
      // log is read once, which names what went wrong
      if (source.readyState === EventSource.CLOSED) {
        streams.delete(source);
        for (const log of open) showLog(base, log.stream, log.pre, log.state).catch((e) => logError(log.stream, log.pre, log.state, e.message));
      } else {
        for (const log of open) log.state.textContent = "disconnected";
        connectionLost();
      }
    });
    return source;
  };
  // without a stream (other tabs hold the slots, or this one was hidden): each log's end read
  // again every few seconds, drawn in place of what was shown (the task's page is drawn afresh
  // once the task ends, which reads each log whole)
  const poll = async () => {
    for (const log of logs.values()) {
      if (log.done) continue;
      const response = await fetched(`${base}/logs/${log.stream}?tail=${LOG_TAIL}`).catch((e) => { connectionLost(e); return null; });
      if (!response) return true;
      if (!response.ok) { log.done = true; logError(log.stream, log.pre, log.state, await refusal(response)); continue; }
      const raw = await response.text();
      connectionBack();
      document.getElementById(`${log.stream}-cut`)?.remove();
      logCut(base, log.stream, log.pre, new TextEncoder().encode(raw).length, Number(response.headers.get("x-headwater-log-size")) || 0);
      const following = atEnd(log.pre);
      restart(log);
      log.draw(log.chunk(raw));
      log.pre.classList.toggle("empty", !raw);
      log.state.textContent = "following (every few seconds)";
      if (following) log.pre.scrollTop = log.pre.scrollHeight;
    }
    return [...logs.values()].some((log) => !log.done);
  };
  liveFeed(listen, poll);
}

const INPUTS_SHOWN = 10;

// A find box over a log: the lines holding its text (any case) are listed in place of the log,
// the text marked in them, with how many lines match; Escape empties it and shows the log.
// A log the page holds whole is searched in the page, at each key press, keeping up as a
// followed log grows. A log the page holds only the end of (over 1 MiB) is searched whole on
// the server (plain text, never a pattern): each match names its line, a button that shows the
// lines around it, read from the server, wherever they are in the log.
const FIND_SHOWN = 2000;  // matching lines drawn at most from the page's own text (all are counted)
const FIND_LISTED = 200;  // matches the server lists for a big log
const FIND_MAX_CHARS = 200;  // the longest text the server searches for
const AROUND = 100;  // lines shown on each side of a match read from the server

function findPattern(text) { return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi"); }

function markedLine(line, pattern, attrs) {
  const row = el("span", attrs || { class: "line hit" });
  let at = 0;
  for (const found of line.matchAll(pattern)) {
    row.append(line.slice(at, found.index), el("mark", { text: found[0] }));
    at = found.index + found[0].length;
  }
  row.append(line.slice(at));
  return row;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function logFinder(base, stream, pre, attempt) {
  const input = el("input", { type: "search", id: `${stream}-find`, "aria-label": `find in ${stream}`,
    placeholder: `find in ${stream}`, autocomplete: "off", spellcheck: "false", maxlength: FIND_MAX_CHARS });
  const count = el("span", { class: "muted", id: `${stream}-matches`, role: "status", "aria-live": "polite" });
  const hits = el("pre", { class: "log log-matches", id: `${stream}-hits`, tabindex: 0, role: "region", "aria-label": `${stream}: the lines that match`, hidden: true });
  const aroundText = el("pre", { class: "log log-matches", id: `${stream}-around-lines`, tabindex: 0, role: "region", "aria-label": `${stream}: the lines around a match` });
  const aroundHead = el("p", { class: "muted log-around-head" });
  const around = el("div", { class: "log-around", id: `${stream}-around`, hidden: true }, aroundHead, aroundText);
  const cut = () => Boolean(document.getElementById(`${stream}-cut`));  // the page holds only the end
  const show = (which) => { pre.hidden = which !== pre; hits.hidden = which !== hits; around.hidden = which !== around; };

  const inPage = () => {
    const pattern = findPattern(input.value);
    const lines = (pre.classList.contains("empty") ? "" : pre.textContent).split("\n").filter((line) => { pattern.lastIndex = 0; return pattern.test(line); });
    hits.replaceChildren(...lines.slice(0, FIND_SHOWN).map((line) => markedLine(line, pattern)));
    show(hits);
    count.textContent = `${plural(lines.length, "matching line")}${lines.length > FIND_SHOWN ? ` (the first ${FIND_SHOWN} shown)` : ""}`;
  };

  // the lines around line `line`, read from the server, the matching one marked and in view
  let lastJump = null;
  const showAround = async (line, from) => {
    lastJump = from;
    const wanted = input.value;
    const q = new URLSearchParams({ attempt, from: Math.max(1, line - AROUND), count: 2 * AROUND + 1 });
    let got;
    try { got = await api(`${base}/logs/${stream}/lines?${q}`); } catch (e) { count.textContent = `cannot read the log: ${e.message}`; return; }
    if (input.value !== wanted) return;
    const pattern = findPattern(wanted);
    const back = el("button", { type: "button", class: "log-back", text: "back to the matches" });
    back.addEventListener("click", () => { show(hits); if (lastJump) lastJump.focus(); });
    const last = got.from + got.lines.length - 1;
    aroundHead.replaceChildren(`lines ${got.from}–${last} of ${got.total_lines}, around line ${line} `, back);
    let target = null;
    aroundText.replaceChildren(...got.lines.map((text, i) => {
      const number = got.from + i;
      const row = markedLine(text, pattern, { class: number === line ? "line hit target" : "line", "data-line": number });
      if (number === line) target = row;
      return row;
    }));
    show(around);
    if (target) aroundText.scrollTop += target.getBoundingClientRect().top - aroundText.getBoundingClientRect().top - aroundText.clientHeight / 3;
    back.focus();
  };

  let asked = 0, timer = null, lastAsk = 0;
  const wholeLog = async () => {
    const wanted = input.value, mine = ++asked;
    if (!wanted) return;
    const q = new URLSearchParams({ q: wanted, attempt, limit: FIND_LISTED });
    let found;
    try { found = await api(`${base}/logs/${stream}/find?${q}`); } catch (e) { if (mine === asked) count.textContent = `cannot search: ${e.message}`; return; }
    if (mine !== asked || input.value !== wanted) return;
    const pattern = findPattern(wanted);
    hits.replaceChildren(...found.matches.map((m) => {
      const jump = el("button", { type: "button", class: "log-jump", "data-line": m.line, "aria-label": `show line ${m.line} in its place`, text: `line ${m.line}` });
      jump.addEventListener("click", () => showAround(m.line, jump));
      const row = markedLine(`${m.cut_start ? "…" : ""}${m.text}${m.cut_end ? "…" : ""}`, pattern);
      row.prepend(jump, " ");
      return row;
    }));
    if (around.hidden) show(hits);
    const n = `${found.count}${found.counted_all ? "" : "+"}`;
    count.textContent = `${n} matching line${n === "1" ? "" : "s"} in the whole log${found.more ? ` (the first ${found.matches.length} listed)` : ""}`;
  };
  // typed: asked a quarter second after the last key; a followed log that grows: every 2 s at most
  const askSoon = (typed) => {
    if (typed) { clearTimeout(timer); timer = null; }
    if (timer) return;
    const wait = typed ? 250 : Math.max(250, lastAsk + 2000 - Date.now());
    timer = setTimeout(() => { timer = null; lastAsk = Date.now(); wholeLog(); }, wait);
  };

  let queued = false;
  const changed = (typed) => {
    if (!input.value) {
      asked++; clearTimeout(timer); timer = null;
      hits.replaceChildren(); aroundText.replaceChildren(); show(pre); count.textContent = "";
      return;
    }
    if (cut()) { if (typed) show(hits); askSoon(typed); return; }
    if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; if (input.value && !cut()) inPage(); }); }
  };
  // what is found is kept in the address (`?find-stdout=TEXT`, replaced, not a new history
  // entry): a reload, or the link sent to a colleague, opens the log found in again
  const param = `find-${stream}`;
  const remember = () => {
    const q = new URLSearchParams(location.search);
    if (input.value) q.set(param, input.value); else q.delete(param);
    const search = q.toString();
    if (`?${search}` !== location.search && (search || location.search)) history.replaceState(history.state, "", `${location.pathname}${search ? `?${search}` : ""}${location.hash}`);
  };
  input.addEventListener("input", () => { changed(true); remember(); });
  input.addEventListener("keydown", (event) => { if (event.key === "Escape" && input.value) { input.value = ""; changed(true); remember(); } });
  new MutationObserver(() => { if (input.value) changed(false); }).observe(pre, { childList: true, characterData: true, subtree: true });
  const kept = (new URLSearchParams(location.search).get(param) || "").split(/\r?\n/)[0].slice(0, FIND_MAX_CHARS);
  if (kept) { input.value = kept; changed(true); }
  const box = el("p", { class: "log-find" }, el("label", { for: input.id, class: "muted", text: "find" }), input, count);
  return { box, hits, around };
}

async function taskPage() {
  const { flow, runId, step, taskId } = app.dataset;
  crumbs([flow, `/flows/${enc(flow)}`], [runId, runHref(flow, runId)],
    [step, `${runHref(flow, runId)}?step=${enc(step)}#tasks`], [taskId, null]);
  const base = `/api/tasks/${enc(flow)}/${enc(runId)}/${enc(step)}/${enc(taskId)}`;
  const task = await api(base);
  // drawn afresh while it runs (another attempt, a new card): its old log streams give way; once
  // it ended, a stream still open ends on its own, a page polling stops
  if (task.status === "running") closeStreams();
  else for (const feed of feeds) if (feed.mode !== "streaming") feed.stop();

  const facts = el("dl", { class: "facts" });
  const fact = (k, v) => facts.append(el("dt", { text: k }), el("dd", {}, v));
  const status = badge(task.status);
  status.id = "task-status";
  fact("status", el("span", {}, status, ...caughtNote(task), ...interruptedNote(task)));
  fact("started", stamp(task.created_at));
  fact("duration", el("span", {}, durationEl("span", task.created_at, task.finished_at, task.status === "running", { id: "task-duration" }), waitedNote(task)));
  if (task.foreach_index !== null) fact("foreach index", String(task.foreach_index));
  if (task.origin_pathspec) {
    const [oFlow, oRun, oStep, oTask] = task.origin_pathspec.split("/");
    fact(task.cached ? "reused from" : "cloned from", el("span", {}, el("a", { id: "cloned-from", href: taskHref(oFlow, oRun, oStep, oTask), text: shownName(task.origin_pathspec) }),
      el("span", { class: "muted", text: task.cached
        ? " — did not run: @cache found this result of the same code, inputs and parameters; its logs, artifacts and cards are that task's, its times those of the copy"
        : " — did not run again when the run was resumed: its logs, artifacts and cards are the origin's, its times those of the copy" })));
  }
  if (task.parents.length) {
    // a join of a big foreach has thousands of inputs: the first few are links, the rest are
    // one link per step to its task list (not thousands of stops for the Tab key)
    const links = el("span", { id: "inputs" });
    const first = task.parents.slice(0, INPUTS_SHOWN);
    for (const p of first) { const [s, t] = p.split("/"); links.append(el("a", { href: taskHref(flow, runId, s, t), text: p }), " "); }
    // the server lists the first inputs only, and counts them all per step (parent_steps)
    const rest = new Map(Object.entries(task.parent_steps || {}));
    if (!task.parent_steps) for (const p of task.parents) { const s = p.split("/")[0]; rest.set(s, (rest.get(s) || 0) + 1); }
    for (const p of first) { const s = p.split("/")[0]; rest.set(s, rest.get(s) - 1); }
    for (const [s, n] of rest) {
      if (n <= 0) continue;
      links.append(el("span", { class: "muted" }, `and ${n} more of step ${s}: `), el("a", { href: `${runHref(flow, runId)}?step=${enc(s)}#tasks`, class: "more-inputs", text: `the tasks of ${s}` }), " ");
    }
    fact("inputs", links);
  }

  // ?attempt=N shows that attempt's logs in the Logs section (a deep link to an earlier
  // attempt's output, its colours dropped like the latest's); without it, the latest attempt's
  const numbers = task.attempts.map((a) => a.attempt);
  const newest = numbers.length ? numbers[numbers.length - 1] : 0;
  const asked = new URLSearchParams(location.search).get("attempt");
  const picked = asked !== null && /^[0-9]+$/.test(asked) && numbers.includes(Number(asked)) ? Number(asked) : newest;
  const older = picked !== newest;
  const attempts = el("div", { id: "attempts" });
  for (const a of task.attempts) {
    const box = el("section", { class: `attempt ${a.status}`, "data-attempt": a.attempt },
      el("h3", {}, `attempt ${a.attempt} `, badge(a.status), el("span", { class: "muted" }, " ", stamp(a.started_at), " · ", durationEl("span", a.started_at, a.finished_at, a.status === "running", { class: "attempt-duration" }))));
    if (a.attempt !== picked) {  // the Logs section shows one attempt; the others are a link away
      // each link named with its attempt: a list of links reads "stdout of attempt 0", not
      // "stdout" once per attempt and again for the latest
      const here = a.attempt === newest ? location.pathname : `${location.pathname}?attempt=${a.attempt}`;
      box.append(el("p", { class: "attempt-logs muted" }, "its output: ",
        el("a", { href: `${here}#logs`, class: "attempt-show", "aria-label": `show the logs of attempt ${a.attempt} on this page`, text: "show its logs" }), " · as plain text: ",
        el("a", { href: `${base}/logs/stdout?attempt=${a.attempt}`, "aria-label": `stdout of attempt ${a.attempt}`, text: "stdout" }), " · ",
        el("a", { href: `${base}/logs/stderr?attempt=${a.attempt}`, "aria-label": `stderr of attempt ${a.attempt}`, text: "stderr" })));
    }
    // a task @catch caught ends with @catch's stand-in: an attempt that ran nothing of the
    // step, recorded succeeded so the flow goes on (Metaflow records no such attempt: its last
    // failed one is marked done). Read bare, "attempt 2 succeeded" said the step passed.
    if (task.caught && a.attempt === newest && a.status === "succeeded" && task.attempts.length > 1) {
      box.append(el("p", { class: "muted stand-in", text: "@catch's stand-in: the step did not run again; the attempt before failed and the flow went on from here, with @catch's variable set" }));
    }
    if (a.failure) {
      box.append(el("p", { class: "failure" }, el("strong", { text: a.failure.type }), `: ${plain(a.failure.message)}`));
      if (a.failure.traceback) box.append(el("pre", { class: "traceback", tabindex: 0, role: "region", "aria-label": `traceback of attempt ${a.attempt}`, text: plain(a.failure.traceback) }));
    }
    attempts.append(box);
  }

  const logs = el("div", { class: "logs" });
  const followed = [];
  for (const stream of ["stdout", "stderr"]) {
    const pre = el("pre", { id: stream, class: "log empty", tabindex: 0, role: "region", "aria-label": stream });
    const live = task.status === "running" && !older;
    const state = el("span", { class: "muted", id: `${stream}-state`, text: live ? "following" : "loading" });
    const which = task.attempts.length > 1 ? el("span", { class: "muted", text: `of attempt ${picked}${older ? ` (not the latest, ${newest})` : ""} · ` }) : null;
    const raw = el("a", { href: `${base}/logs/${stream}?attempt=${picked}`, class: "raw-log", "aria-label": `${stream} as plain text`, text: "plain text" });
    const finder = logFinder(base, stream, pre, picked);
    logs.append(el("section", {}, el("h3", {}, `${stream} `, which, state, " · ", raw), finder.box, pre, finder.hits, finder.around));
    if (live) followed.push({ stream, pre, state });
    else showLog(base, stream, pre, state, older ? picked : null).catch((e) => logError(stream, pre, state, e.message));
  }
  if (followed.length) followLogs(base, followed);

  const listed = artifactList(base, task);
  // the facts the client's task.metadata gives (Metaflow's names: attempt, attempt_ok, ...)
  const metadata = el("table", { id: "metadata", "aria-label": "metadata" },
    el("thead", {}, el("tr", {}, ...["name", "value", "type", "recorded"].map((h) => el("th", { text: h })))),
    el("tbody", {}, ...(task.metadata || []).map((m) => el("tr", { "data-name": m.name },
      el("td", { text: m.name }), el("td", {}, el("code", { text: m.value })), el("td", { "data-label": "type", text: m.type }), el("td", { "data-label": "recorded" }, stamp(m.created_at))))));

  const cards = el("div", { id: "cards" });
  const frames = new Map();
  for (const c of task.cards) {
    const frame = el("iframe", { class: "card", sandbox: "allow-scripts allow-popups", src: cardSrc(base, c), title: `card ${c.index}`, loading: "lazy", "data-version": c.version ?? "" });
    frames.set(c.index, frame);
    cards.append(el("h3", { text: `card ${c.index}: ${c.type}${c.id ? ` (${c.id})` : ""}${c.live ? " — live" : ""}` }), frame);
  }
  if (task.status === "running") followTask(base, task, frames);

  redraw(el("h1", { text: shownName(`${flow}/${runId}/${step}/${taskId}`) }), facts,
    el("h2", { text: "Attempts" }), attempts,
    el("h2", { id: "logs", text: "Logs" }),
    ...(older ? [el("p", { id: "older-attempt", class: "notice", role: "status" }, `These are the logs of attempt ${picked}, not of the latest attempt (${newest}): `,
      el("a", { href: `${location.pathname}#logs`, text: "show the latest attempt's logs" }))] : []),
    logs,
    el("h2", { text: "Artifacts" }), ...(task.artifacts_total ? listed : [el("p", { class: "muted", text: task.status === "running" ? "recorded when the task ends" : "none" })]),
    el("h2", { text: "Cards" }), task.cards.length ? cards : el("p", { class: "muted", text: "none" }),
    el("h2", { text: "Metadata" }), task.metadata_error ? el("p", { class: "error", text: `cannot be read: ${task.metadata_error}` })
      : (task.metadata || []).length ? scrolled(metadata) : el("p", { class: "muted", text: "none" }));
  // an address ending #logs (an attempt's logs, linked) opens at the logs; a redraw leaves the window be
  if (app.dataset.drawn !== "true" && location.hash === "#logs") document.getElementById("logs").scrollIntoView();
  app.dataset.drawn = "true";
}

// A task tried more than once spans its attempts and the time between them: a retry that
// waited (its minutes_between_retries, or its turn behind the run's other ready tasks) made a
// task of 0.1 s read as a 30 s one. Said when its attempts ran for under nine tenths of it.
function waitedNote(task) {
  const tries = task.attempts.filter((a) => a.started_at && a.finished_at);
  if (task.status === "running" || !task.finished_at || tries.length < 2 || tries.length !== task.attempts.length) return null;
  const ran = tries.reduce((sum, a) => sum + Math.max(0, a.finished_at - a.started_at), 0);
  const span = task.finished_at - task.created_at;
  if (!(span > 1 && ran < span * 0.9)) return null;
  return el("span", { id: "task-waited", class: "muted",
    text: ` · its ${tries.length} attempts ran ${seconds(ran)}; the rest was waiting before and between them` });
}

// Where an artifact's value was set: this task, or a link to the earlier task that set it
// (a value inherited unchanged), so the reader jumps from an artifact to the code, logs and
// inputs that made it.
function madeBy(a, own) {
  if (!a.made_by) return el("span", { class: "muted made-by", text: "earlier" });
  if (a.made_by === own) return el("span", { class: "muted made-by", text: "this task" });
  const [flow, run, step, task] = a.made_by.split("/");
  return el("a", { href: taskHref(flow, run, step, task), class: "made-by", "aria-label": `${a.name} set by ${step}/${task}`, text: shownName(`${step}/${task}`) });
}

function artifactRow(base, a, own, setup) {
  // a value the UI cannot load says why and what to do; its stored pickle stays downloadable
  const why = a.error ? el("div", { class: "unreadable" },
    el("p", { class: "error", text: a.error }), a.fix ? el("p", { class: "fix", text: `Fix: ${a.fix}` }) : null) : null;
  const link = a.download ? el("a", { href: `${base}/artifact?name=${enc(a.name)}`, download: "", "aria-label": `download ${a.name}${a.download === "pickle" ? " (its pickle)" : ""}`,
    text: a.download === "pickle" ? "download pickle" : "download" }) : null;
  const copy = el("button", { type: "button", class: "copy-code", "aria-label": `copy Python code that reads ${a.name}`, text: "copy code" });
  copy.addEventListener("click", () => copyCode(artifactCode(setup, own, a.name)));
  return el("tr", { "data-artifact": a.name },
    el("td", { text: shownName(a.name) }), el("td", {}, madeBy(a, own)), el("td", { text: a.type }), el("td", { class: "size", text: size(a.size) }),
    el("td", {}, why || el("code", { class: "preview", text: a.preview ?? (a.previewed === false ? "(not previewed: too many bytes to preview on this page; download it)" : "(too large to preview)") })),
    el("td", { class: "artifact-get" }, link, link ? " " : null, copy));
}

// The client-API code that reads an artifact in a notebook: the server's lines choosing the
// metadata and datastore this UI reads (ui/notebook.py: pasted in another folder the client
// would find another datastore, or none), every namespace (the run may be another user's), the
// task by its pathspec, the artifact by name (any identifier, in any script). JSON's string
// literals are Python's too.
function artifactCode(setup, pathspec, name) {
  return `${setup || "from headwater import Task, namespace"}\nnamespace(None)\nvalue = Task(${JSON.stringify(pathspec)})[${JSON.stringify(name)}].data`;
}

// Copies code to the clipboard and shows it under the artifacts, so the reader sees what was
// copied; where the browser refuses the clipboard (a page over plain http from another host
// is not a secure context), the code is shown selected, to be copied by hand.
async function copyCode(code) {
  const shown = document.getElementById("artifact-code");
  const said = document.getElementById("artifact-code-state");
  if (!shown || !said) return;
  shown.textContent = code;
  shown.hidden = false;
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard here");
    await navigator.clipboard.writeText(code);
    said.textContent = "Copied; paste it into Python:";
  } catch {
    said.textContent = "The browser did not let the page copy: the code is selected below, copy it with Ctrl+C (⌘C):";
    shown.focus();
    getSelection().selectAllChildren(shown);
  }
}

// A task's artifacts, a page at a time (the server's ARTIFACTS_PAGE, 100): a task with a thousand
// artifacts answers its first hundred, previewed, and a button reads the next hundred. Past one
// page a find box keeps those whose name holds its text, asked of the server (every artifact's
// name, not only the rows loaded).
const ARTIFACTS_PAGE = 100;
function artifactList(base, task) {
  const table = el("table", { id: "artifacts", "aria-label": "artifacts" }, el("thead", {}, el("tr", {}, ...["name", "set by", "type", "size", "preview"].map((h) => el("th", { text: h })),
    el("th", {}, el("span", { class: "visually-hidden", text: "download" })))));
  const body = el("tbody");
  table.append(body);
  body.append(...task.artifacts.map((a) => artifactRow(base, a, task.pathspec, task.client_setup)));
  const range = el("span", { id: "artifacts-range", role: "status" });
  const more = el("button", { type: "button", id: "artifacts-more" });
  const pager = el("p", { class: "pager artifacts-pager" }, range, " ", more);
  let total = task.artifacts_total, query = "", asked = 0;
  const drawPager = () => {
    const rows = body.children.length;
    range.textContent = query ? `${plural(total, "artifact")} named with “${query}”${rows < total ? `, ${rows} shown` : ""}` : `artifacts 1–${rows} of ${total}`;
    const next = Math.min(ARTIFACTS_PAGE, total - rows);
    more.textContent = `show the next ${plural(next, "artifact")}`;
    more.hidden = rows >= total;
  };
  const read = async (offset) => {
    const mine = ++asked;
    const q = new URLSearchParams({ offset, limit: ARTIFACTS_PAGE });
    if (query) q.set("q", query);
    const page = await api(`${base}/artifacts?${q}`);
    if (mine !== asked) return;
    if (!offset) body.replaceChildren();
    body.append(...page.artifacts.map((a) => artifactRow(base, a, task.pathspec, task.client_setup)));
    total = page.total;
    drawPager();
  };
  const failed = (e) => { range.textContent = `cannot read the artifacts: ${e.message}`; };
  more.addEventListener("click", () => {
    // the Tab key goes on from the first row read, not from the top of the page
    const before = body.children.length;
    read(before).then(() => body.children[before]?.querySelector("a")?.focus({ preventScroll: true })).catch(failed);
  });
  drawPager();
  const code = el("div", { id: "artifact-code-box" }, el("p", { id: "artifact-code-state", class: "muted", role: "status" }),
    el("pre", { id: "artifact-code", class: "code", tabindex: 0, "aria-label": "Python code that reads the artifact", hidden: true }));
  if (task.artifacts_total <= ARTIFACTS_PAGE) return [scrolled(table), code];
  const input = el("input", { type: "search", id: "artifacts-find", "aria-label": "find artifacts by name", placeholder: "find artifacts by name", autocomplete: "off", spellcheck: "false", maxlength: 200 });
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { query = input.value; read(0).catch(failed); }, 250);
  });
  input.addEventListener("keydown", (event) => { if (event.key === "Escape" && input.value) { input.value = ""; input.dispatchEvent(new Event("input")); } });
  const box = el("p", { class: "log-find" }, el("label", { for: input.id, class: "muted", text: "find" }), input);
  return [box, scrolled(table), pager, code];
}

// A card's frame fits the card: the card (served with a few lines that measure it) posts its
// height. Only a number from one of this page's card frames is taken, and it is clamped: a card
// can make its own frame short or tall, never the page do anything else.
const CARD_MIN_PX = 60, CARD_MAX_PX = 16000;
window.addEventListener("message", (event) => {
  const height = event.data && event.data.headwaterCardHeight;
  if (typeof height !== "number" || !Number.isFinite(height)) return;
  for (const frame of document.querySelectorAll("iframe.card")) {
    if (frame.contentWindow !== event.source) continue;
    frame.style.height = `${Math.min(CARD_MAX_PX, Math.max(CARD_MIN_PX, Math.ceil(height) + 2))}px`;
    frame.dataset.fitted = "true";
  }
});

function cardSrc(base, card) {
  // The version only busts the browser's cache: the server ignores it.
  return `${base}/cards/${card.index}${card.version ? `?v=${card.version}` : ""}`;
}

// A running task's page follows it: a live card whose render changed is reloaded in its frame,
// and once the task ends (or gains an attempt or a card) the page is drawn afresh from the API.
function followTask(base, shown, frames) {
  const shape = (t) => JSON.stringify([t.status, t.attempts.length, t.cards.map((c) => [c.index, c.live])]);
  const before = shape(shown);
  const tick = async () => {
    if (pageGone) return;
    let now;
    try { now = await api(base); } catch (e) {
      if (isGone(e)) { gone(app.dataset.flow, app.dataset.runId); return; }  // deleted: stop asking
      connectionLost(e);
      setTimeout(tick, 3000);  // the server is away for a moment: ask again
      return;
    }
    connectionBack();
    if (shape(now) !== before) { taskPage().catch((e) => (isGone(e) ? gone(app.dataset.flow, app.dataset.runId) : fail(e))); return; }
    for (const c of now.cards) {
      const frame = frames.get(c.index);
      if (frame && c.version && frame.dataset.version !== c.version) {
        frame.dataset.version = c.version;
        frame.src = cardSrc(base, c);
      }
    }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
}

// Two runs of a flow side by side: what a data scientist asks after a run went wrong or slow
// ("what did I change?"): their facts, parameters, each step's duration, and the artifacts of
// one step's first task (the end step's by default: what `run.data` gives), each value marked
// the same or different by its content hash, each linked to the task that set it. The address
// is the comparison (`/compare/FLOW/A/B?step=S`): it survives a reload and can be shared.
const COMPARED_ARTIFACTS = 500;  // the server's largest page: a task with more says so
function sameMark(same, text) {
  return el("td", { class: same ? "same" : "differs", text: text || (same ? "same" : "differs") });
}

async function firstTask(flow, runId, step) {
  const page = await api(`/api/runs/${enc(flow)}/${enc(runId)}/tasks?${new URLSearchParams({ step, limit: 1 })}`);
  if (!page.tasks.length) return null;
  const t = page.tasks[0];
  const listed = await api(`/api/tasks/${enc(flow)}/${enc(runId)}/${enc(step)}/${enc(t.task_id)}/artifacts?limit=${COMPARED_ARTIFACTS}`);
  return { task: t, artifacts: listed.artifacts, total: listed.total };
}

async function comparePage() {
  const { flow, a, b } = app.dataset;
  crumbs([flow, `/flows/${enc(flow)}`], [`${a} and ${b} compared`, null]);
  const [runA, runB] = await Promise.all([api(`/api/runs/${enc(flow)}/${enc(a)}`), api(`/api/runs/${enc(flow)}/${enc(b)}`)]);
  const names = [...new Set([...runA.layout.nodes, ...runB.layout.nodes].map((n) => n.name))];
  const asked = new URLSearchParams(location.search).get("step");
  // by default the last step both runs ran a task of to success (the end step for two finished
  // runs; for a run that failed half-way, the step before the failure, where both have values)
  const both = names.filter((n) => runA.steps[n]?.succeeded && runB.steps[n]?.succeeded);
  const step = asked || both[both.length - 1] || (names.includes("end") ? "end" : names[names.length - 1]);
  const head = (...cells) => el("thead", {}, el("tr", {}, ...cells.map((c) => el("th", { text: c }))));
  const runLink = (id) => el("a", { href: runHref(flow, id), text: `${flow}/${id}` });

  const facts = el("table", { id: "compare-runs", "aria-label": "runs compared" }, el("thead", {}, el("tr", {}, el("th", { text: "" }),
    el("th", {}, runLink(a)), el("th", {}, runLink(b)))));
  const fbody = el("tbody");
  const factRow = (name, va, vb) => fbody.append(el("tr", {}, el("th", { scope: "row", text: name }), el("td", {}, va), el("td", {}, vb)));
  factRow("status", badge(runA.status), badge(runB.status));
  factRow("user", shownName(runA.user), shownName(runB.user));
  factRow("started", stamp(runA.created_at), stamp(runB.created_at));
  factRow("duration", durationEl("span", runA.created_at, runA.finished_at || runA.stopped_at, runA.status === "running"),
    durationEl("span", runB.created_at, runB.finished_at || runB.stopped_at, runB.status === "running"));
  factRow("tags", tagLinks(runA.tags), tagLinks(runB.tags));
  facts.append(fbody);

  const pnames = [...new Set([...Object.keys(runA.parameters), ...Object.keys(runB.parameters)])].sort();
  const params = el("table", { id: "compare-parameters", "aria-label": "parameters compared" }, head("parameter", `${a}`, `${b}`, ""));
  const pbody = el("tbody");
  let pdiff = 0;
  for (const n of pnames) {
    const va = runA.parameters[n], vb = runB.parameters[n];
    const same = n in runA.parameters && n in runB.parameters && va === vb;
    if (!same) pdiff++;
    const cell = (run, v) => el("td", {}, n in run.parameters ? el("code", { text: v ?? "(large)" }) : el("span", { class: "muted", text: "(not a parameter)" }));
    pbody.append(el("tr", { "data-parameter": n, class: same ? "" : "differs" }, el("td", { text: n }), cell(runA, va), cell(runB, vb), sameMark(same)));
  }
  params.append(pbody);

  const steps = el("table", { id: "compare-steps", "aria-label": "step durations compared" }, head("step", `${a}`, `${b}`, "change"));
  const sbody = el("tbody");
  for (const n of names) {
    const sa = runA.steps[n], sb = runB.steps[n];
    const took = (st) => (st && st.finished_at ? st.finished_at - st.started_at : null);
    const da = took(sa), db = took(sb);
    let change = "-";
    const copied = (st) => Boolean(st && st.cloned && st.cloned === st.tasks);
    const reused = (st) => Boolean(st && st.cached && st.cached === st.tasks);
    const how = (st) => (copied(st) ? "cloned" : "reused from @cache");
    if (copied(sa) || copied(sb) || reused(sa) || reused(sb)) {  // copies took no time worth comparing
      const which = [[a, sa], [b, sb]].filter(([, st]) => copied(st) || reused(st));
      change = `not compared: ${[...new Set(which.map(([, st]) => how(st)))].length === 1
        ? `${how(which[0][1])} in ${which.map(([id]) => id).join(" and ")}` : which.map(([id, st]) => `${how(st)} in ${id}`).join(", ")}`;
    } else if (da !== null && db !== null) {
      const delta = db - da;
      change = `${delta >= 0 ? "+" : "−"}${duration(0.000001, Math.abs(delta) + 0.000001)}${da > 0.05 ? ` (×${(db / da).toFixed(1)})` : ""}`;
    }
    const cell = (st) => el("td", {}, st ? durationEl("span", st.started_at, st.finished_at, !st.finished_at) : el("span", { class: "muted", text: "not run" }),
      copied(st) || reused(st) ? el("span", { class: "muted", text: ` (${how(st)})` }) : null);
    sbody.append(el("tr", { "data-step": n }, el("td", { text: n }), cell(sa), cell(sb), el("td", { text: change })));
  }
  steps.append(sbody);

  // the step whose first task's artifacts are compared: a link per step, kept in the address
  const picker = el("p", { class: "step-picker" }, "artifacts of the first task of step: ");
  for (const n of names) {
    const q = new URLSearchParams({ step: n });
    picker.append(" ", el("a", { href: `${location.pathname}?${q}#artifacts`, class: n === step ? "current" : "", "aria-current": n === step ? "true" : null, text: n }));
  }
  const [ta, tb] = await Promise.all([firstTask(flow, a, step).catch(() => null), firstTask(flow, b, step).catch(() => null)]);
  const artifacts = [];
  const missing = [[a, ta], [b, tb]].filter(([, t]) => !t).map(([id]) => `${flow}/${id}`);
  if (missing.length) artifacts.push(el("p", { class: "muted", id: "compare-missing", text: `No task of step ${step} in ${missing.join(" or ")}: nothing of it to compare there.` }));
  if (ta || tb) {
    const taskLink = (id, t) => (t ? el("a", { href: taskHref(flow, id, step, t.task.task_id), text: `${id}/${step}/${t.task.task_id}` }) : `${id}: none`);
    const table = el("table", { id: "compare-artifacts", "aria-label": "artifacts compared" }, el("thead", {}, el("tr", {}, el("th", { text: "artifact" }),
      el("th", {}, taskLink(a, ta)), el("th", {}, taskLink(b, tb)), el("th", { text: "" }))));
    const body = el("tbody");
    const byName = (t) => new Map((t ? t.artifacts : []).map((x) => [x.name, x]));
    const ma = byName(ta), mb = byName(tb);
    const anames = [...new Set([...ma.keys(), ...mb.keys()])].sort();
    let adiff = 0;
    const cell = (x, t) => {
      if (!x) return el("td", {}, el("span", { class: "muted", text: t ? "(none)" : "-" }));
      const value = el("code", { class: "preview", text: x.error ? `(cannot be read here: ${x.error})` : x.preview ?? "(too large to preview)" });
      return el("td", {}, value, el("div", { class: "muted" }, "set by ", madeBy(x, t.task.pathspec)));
    };
    for (const n of anames) {
      const xa = ma.get(n), xb = mb.get(n);
      const same = Boolean(xa && xb && xa.sha === xb.sha);
      if (!same) adiff++;
      const mark = same ? "same" : !xa ? `only in ${b}` : !xb ? `only in ${a}` : "differs";
      body.append(el("tr", { "data-artifact": n, class: same ? "" : "differs" }, el("td", { text: n }), cell(xa, ta), cell(xb, tb), sameMark(same, mark)));
    }
    table.append(body);
    artifacts.push(el("p", { id: "compare-artifacts-count", text: `${plural(adiff, "artifact")} of ${anames.length} differ${adiff === 1 ? "s" : ""}.` }), scrolled(table));
    const cut = [[a, ta], [b, tb]].filter(([, t]) => t && t.total > t.artifacts.length);
    if (cut.length) artifacts.push(el("p", { class: "muted", text: `Only the first ${COMPARED_ARTIFACTS} artifacts by name are compared (${cut.map(([id, t]) => `${id} has ${t.total}`).join(", ")}).` }));
  }
  document.title = `${shownName(flow)}/${shownName(a)} and ${shownName(b)} compared · headwater`;
  redraw(el("h1", { text: `${flow}/${a} and ${flow}/${b} compared` }), scrolled(facts),
    el("h2", { text: "Parameters" }), ...(pnames.length ? [el("p", { id: "compare-parameters-count", text: `${plural(pdiff, "parameter")} of ${pnames.length} differ${pdiff === 1 ? "s" : ""}.` }), scrolled(params)]
      : [el("p", { class: "muted", text: "none" })]),
    el("h2", { text: "Steps" }), scrolled(steps),
    el("h2", { id: "artifacts", text: "Artifacts" }), picker, ...artifacts);
  if (location.hash === "#artifacts") document.getElementById("artifacts").scrollIntoView();
}

const pages = { runs: runsPage, run: runPage, task: taskPage, compare: comparePage };
(pages[app.dataset.page] || (() => fail(new Error("unknown page"))))().catch(fail);
