// The panel's passkey ceremonies: browsers offer WebAuthn to scripts only. Every other page and
// form of the panel works without this file. A form marked data-passkey="enrol|login|reauth"
// asks the server for options, hands them to navigator.credentials, sends the answer back and
// follows the server's next step. Binary fields travel as base64url, as the server expects.

const fromB64 = (text) => {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(bytes, (c) => c.charCodeAt(0)).buffer;
};

const toB64 = (buffer) => {
  let text = "";
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

const creation = ({ publicKey }) => ({
  ...publicKey,
  challenge: fromB64(publicKey.challenge),
  user: { ...publicKey.user, id: fromB64(publicKey.user.id) },
  excludeCredentials: (publicKey.excludeCredentials || []).map((c) => ({ ...c, id: fromB64(c.id) })),
});

const request = ({ publicKey }) => ({
  ...publicKey,
  challenge: fromB64(publicKey.challenge),
  allowCredentials: (publicKey.allowCredentials || []).map((c) => ({ ...c, id: fromB64(c.id) })),
});

const registration = (credential) => ({
  id: credential.id,
  rawId: toB64(credential.rawId),
  type: credential.type,
  response: {
    attestationObject: toB64(credential.response.attestationObject),
    clientDataJSON: toB64(credential.response.clientDataJSON),
    transports: credential.response.getTransports ? credential.response.getTransports() : undefined,
  },
  extensions: credential.getClientExtensionResults(),
});

const assertion = (credential) => ({
  id: credential.id,
  rawId: toB64(credential.rawId),
  type: credential.type,
  response: {
    authenticatorData: toB64(credential.response.authenticatorData),
    clientDataJSON: toB64(credential.response.clientDataJSON),
    signature: toB64(credential.response.signature),
    userHandle: credential.response.userHandle ? toB64(credential.response.userHandle) : undefined,
  },
  extensions: credential.getClientExtensionResults(),
});

const post = async (url, body, csrf) => {
  const headers = { "content-type": "application/json" };
  if (csrf) headers["x-csrf-token"] = csrf;
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin" });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(json.error?.message || response.statusText);
  return json;
};

const showCodes = (form, codes, next) => {
  const section = document.getElementById("recovery-codes");
  const list = section.querySelector("ol");
  list.replaceChildren(...codes.map((code) => {
    const item = document.createElement("li");
    item.textContent = code;
    return item;
  }));
  section.querySelector("a").href = next;
  form.hidden = true;
  section.hidden = false;
  section.querySelector("h2").focus();
};

const run = async (form) => {
  const kind = form.dataset.passkey;
  const status = form.querySelector("[role=status]") || form.querySelector(".status");
  const base = form.dataset.endpoint;
  const csrf = form.dataset.csrf;
  const data = Object.fromEntries(new FormData(form));
  if (!window.PublicKeyCredential) throw new Error(form.dataset.unsupported);
  const started = await post(`${base}/start`, data, csrf);
  let answer;
  if (kind === "enrol") {
    answer = registration(await navigator.credentials.create({ publicKey: creation(started.options) }));
  } else {
    answer = assertion(await navigator.credentials.get({ publicKey: request(started.options) }));
  }
  const done = await post(`${base}/finish`, { ...data, ceremony: started.ceremony, credential: JSON.stringify(answer) }, csrf);
  if (done.codes) showCodes(form, done.codes, done.next);
  else window.location.assign(done.next);
  if (status) status.textContent = "";
};

for (const form of document.querySelectorAll("form[data-passkey]")) {
  const button = form.querySelector("button[type=submit]");
  if (button) button.disabled = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const error = form.querySelector(".error");
    error.hidden = true;
    if (button) button.disabled = true;
    run(form).catch((err) => {
      error.textContent = `${form.dataset.failed} ${err.message || err}`;
      error.hidden = false;
      error.focus();
    }).finally(() => {
      if (button) button.disabled = false;
    });
  });
}
