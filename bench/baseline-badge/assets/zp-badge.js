// Baseline of the badge's load-time benchmark (`cargo xtask bench browser`): the plain
// wasm-bindgen way to load a module, then one check per <zakup-prospoleczny> element. `zp serve
// --widget-dir` serves it as it serves the real loader, writing in the issuer and the hashed names.

import init, { check } from "./__ZP_GLUE__";

const ISSUER = "__ZP_ISSUER__";

await init({ module_or_path: new URL("__ZP_WASM__", import.meta.url) });
for (const element of document.querySelectorAll("zakup-prospoleczny")) {
  check(element, ISSUER, element.getAttribute("token") ?? "");
}
