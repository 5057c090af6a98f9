// Zakup Prospołeczny badge loader.
//
//   <script type="module" src="https://ISSUER/widget/zp-badge.js"></script>
//   <zakup-prospoleczny token="eyJ…" lang="pl" variant="full">
//     <a href="https://ISSUER/v/ID">Zakup Prospołeczny — sprawdź certyfikat</a>
//   </zakup-prospoleczny>
//
// Defines the element and loads the WebAssembly verifier once per page, however many badges
// there are. Each badge renders in its own shadow root, so the page's CSS cannot reach it. If
// scripts or WebAssembly are blocked, the element is left alone and its link stays visible.
//
// Several issuers' loaders may share a page (a shop selling products of two regions): each adds
// its issuer to one page-wide list, the first one defines the element, and every badge checks
// its token with the keys of the issuer the token names — if that issuer is on the list, or a
// listed issuer's signed trust list vouches for it.

const ISSUER = "__ZP_ISSUER__".replace(/\/+$/, "");
const GLUE = "__ZP_GLUE__";
const WASM = "__ZP_WASM__";

// Shared by every loader on the page, of whichever issuer and release.
const PAGE = (globalThis[Symbol.for("zakup-prospoleczny")] ??= { issuers: [], changed: new Set() });
if (!PAGE.issuers.includes(ISSUER)) {
  PAGE.issuers.push(ISSUER);
  for (const changed of PAGE.changed) changed();
}

const CSS = `
:host { all: initial !important; display: inline-block !important; vertical-align: middle !important; }
.zp { --zp-c: #4a4a4a; box-sizing: border-box; display: inline-flex; align-items: center; gap: 10px;
  min-height: 48px; max-width: 340px; padding: 8px 14px 8px 10px; border: 2px solid var(--zp-c);
  border-radius: 10px; background: #fff; color: var(--zp-c); text-decoration: none; cursor: pointer;
  font: 600 15px/1.3 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
.zp:focus-visible { outline: 3px solid #1a4fd6; outline-offset: 3px; }
.zp:hover .zp__headline { text-decoration: underline; }
.zp__icon { flex: none; display: inline-flex; align-items: center; justify-content: center; width: 30px;
  height: 30px; border-radius: 50%; background: var(--zp-c); color: #fff; font-size: 17px; line-height: 1; }
.zp__body { display: flex; flex-direction: column; min-width: 0; }
.zp__mark { font-size: 12px; letter-spacing: .02em; text-transform: uppercase; }
.zp__headline { font-size: 15px; font-weight: 700; }
.zp__entity { font-size: 13px; font-weight: 500; color: #262626; overflow-wrap: anywhere; }
[data-variant=compact] { min-height: 40px; padding: 4px 10px 4px 6px; }
[data-variant=compact] .zp__mark { display: none; }
[data-state=verified] { --zp-c: #136c2e; }
[data-state=expired], [data-state=not-yet-valid], [data-state=suspended], [data-state=cannot-confirm], [data-state=issuer-unrecognised] { --zp-c: #8a4b00; }
[data-state=revoked], [data-state=invalid], [data-state=wrong-site] { --zp-c: #a4141c; }
`;

let module;
function load() {
  module ??= start();
  return module;
}

// Everything the first badge waits for starts at once, instead of one after another: the glue,
// the WebAssembly module (downloaded and compiled while the glue arrives), and the keys and
// status lists the badges' tokens name (see `send`).
function start() {
  const url = new URL(WASM, import.meta.url);
  const wasm = typeof WebAssembly.compileStreaming === "function"
    ? WebAssembly.compileStreaming(fetch(url)).catch((error) => {
      // Not served as application/wasm (a proxy rewrote it?): the glue's slower path.
      if (error instanceof TypeError) return fetch(url);
      throw error;
    })
    : fetch(url);
  wasm.catch(() => {}); // reported through the glue's promise below
  return import(new URL(GLUE, import.meta.url).href).then(async (glue) => {
    await glue.default({ module_or_path: await wasm });
    glue.inflater(inflate);
    for (const [url, request] of early) {
      // The body if it is read already (usually: it arrives while the module compiles), so the
      // badge can show its verdict in its first render; otherwise the promise of it.
      const text = "text" in request ? request.text : request.reading;
      glue.adopt(url, request.revalidate, request.sent, text, request.read ?? 0);
    }
    early.clear();
    ready = true;
    return glue;
  });
}

// Inflates a status list's zlib stream with the browser's own zlib, so that the module carries
// none: the module verifies the list's signature and claims on the compressed list first, then
// hands the stream here. Stops at `max` bytes; null for anything that is not zlib or is larger.
async function inflate(zlib, max) {
  try {
    const reader = new Blob([zlib]).stream().pipeThrough(new DecompressionStream("deflate")).getReader();
    const chunks = [];
    let length = 0;
    for (let chunk; !(chunk = await reader.read()).done;) {
      length += chunk.value.length;
      if (length > max) {
        reader.cancel().catch(() => {});
        return null;
      }
      chunks.push(chunk.value);
    }
    return new Uint8Array(await new Blob(chunks).arrayBuffer());
  } catch {
    return null;
  }
}

// Requests the first badges need, sent while the module loads rather than after it: the keys
// and the status list of the issuer each token names. The module takes each over (`adopt`) for the first badge
// that needs it, so nothing is fetched twice; once it is ready, the badges send their own.
const early = new Map();
let ready = false;

function send(url, revalidate) {
  if (ready || !url || early.has(url)) return;
  const request = { revalidate, sent: performance.now() };
  // The same request the module would send (a status list is always revalidated), read at once;
  // a failure is null, which the badge that takes it over reports.
  request.reading = fetch(url, revalidate ? { cache: "no-cache" } : {})
    .then((response) => (response.ok ? response.text() : null))
    .catch(() => null)
    .then((text) => {
      Object.assign(request, { text, read: performance.now() });
      return text;
    });
  early.set(url, request);
}

// The keys and status list a token names, requested early, read without checking anything: the
// module verifies both on its own and uses the list only if the verified token names it. Only a
// listed issuer's own keys and lists are requested. (The URLs are ASCII, so `atob`'s Latin-1
// reading of the rest of the payload does not matter.)
function sendHints(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/")));
    const issuer = payload?.iss;
    if (!PAGE.issuers.includes(issuer)) return;
    send(`${issuer}/.well-known/jwks.json`, false);
    const uri = payload?.status?.status_list?.uri;
    // Already in normal form, so no `..` can lead out of the lists.
    const normal = typeof uri === "string" && new URL(uri).href === uri;
    if (normal && uri.startsWith(`${issuer}/api/v1/status-lists/`)) send(uri, true);
  } catch {
    // Not a token the module could check either: it says so.
  }
}

let sheet;
function styles() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  return sheet;
}

class ZakupProspoleczny extends HTMLElement {
  static observedAttributes = ["token", "lang", "variant"];

  #badge = null;
  // Re-renders with the page's issuers as they are now (another loader may have joined).
  #refresh = () => {
    this.#badge?.update(PAGE.issuers.join(" "), this.getAttribute("token") ?? "", this.getAttribute("lang"),
      this.getAttribute("variant"));
  };

  connectedCallback() {
    PAGE.changed.add(this.#refresh);
    this.#start();
  }

  disconnectedCallback() {
    PAGE.changed.delete(this.#refresh);
    this.#badge?.unmount();
    this.#badge?.free();
    this.#badge = null;
  }

  attributeChangedCallback() {
    this.#refresh();
  }

  async #start() {
    let glue;
    try {
      const loading = load();
      sendHints(this.getAttribute("token") ?? "");
      glue = await loading;
    } catch (error) {
      // WebAssembly blocked or unreachable: keep the plain link inside the element.
      this.setAttribute("data-zp-state", "unavailable");
      return;
    }
    if (!this.isConnected || this.#badge) return;
    const root = this.shadowRoot ?? this.attachShadow({ mode: "open" });
    root.adoptedStyleSheets = [styles()];
    const mount = document.createElement("span");
    root.replaceChildren(mount);
    this.#badge = new glue.Badge(this, mount);
    this.#refresh();
  }
}

if (!customElements.get("zakup-prospoleczny")) {
  customElements.define("zakup-prospoleczny", ZakupProspoleczny);
}
