// The API as the page uses it: POST /predict for what fits a request, the jobs flow for the rest.
// Same rules as the Python client (src/client): retries on 429/502/503/504 only, with backoff and
// jitter, a Retry-After honoured up to 30 s; the API key goes to the API's origin only, never to the presigned storage links nor to any
// other URL an answer names, and a call with the key does not follow redirects. Links from answers are
// used only when they are https (or http on loopback, for `make serve`): never javascript: or data:.

export const SYNC_LIMIT_BYTES = 4_500_000; // the service's audio.max_upload_bytes (body of POST /predict)
const MULTIPART_OVERHEAD = 2048; // boundaries, part headers and the threshold fields
const TOO_LONG_FOR_A_REQUEST = new Set(["payload_too_large", "audio_too_long", "request_too_large"]);
const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const MAX_RETRIES = 3;
const RETRY_AFTER_CAP_MS = 30_000; // the longest wait between attempts, whatever Retry-After asks (as the Python client)
const JOB_TIMEOUT_MS = 60 * 60 * 1000;

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

// The URL if it is https, or http on this machine; null for anything else (javascript:, data:, ...).
export function safeLink(value) {
  let url;
  try {
    url = new URL(String(value));
  } catch {
    return null;
  }
  const local = url.protocol === "http:" && LOOPBACK_HOST.test(url.hostname);
  return url.protocol === "https:" || local ? url.href : null;
}

function requireLink(value, what) {
  const link = safeLink(value);
  if (link === null) {
    throw new ApiError({ code: "unsafe_link", message: `the API answered a ${what} that is not an https link; the page will not use it` });
  }
  return link;
}

export class ApiError extends Error {
  constructor({ status = 0, code = "client_error", message, requestId = null }) {
    super(message);
    Object.assign(this, { status, code, requestId });
  }
  describe() {
    const where = this.status ? `HTTP ${this.status}, ` : "";
    const request = this.requestId ? `, request ${this.requestId}` : "";
    return `${this.message} (${where}${this.code}${request})`;
  }
}

export class Api {
  // baseUrl: https, or http on this machine (`make serve`); a key never travels in the clear.
  constructor(baseUrl, apiKey) {
    const safe = safeLink(baseUrl);
    if (safe === null) {
      throw new ApiError({ code: "insecure_url", message: `the API URL must be https (http only on this machine): ${String(baseUrl).slice(0, 100)}` });
    }
    this.baseUrl = safe.replace(/\/+$/, "");
    this.apiKey = apiKey || "";
  }

  // GET /health: the models this deployment serves, [{name, version, sha256}], the default first (an
  // older deployment names only its one `model`). It asks for no key, so none is sent (a plain GET
  // needs no CORS preflight either).
  async models() {
    this.ownUrl(`${this.baseUrl}/health`, "URL");
    const answer = await withRetries(() => fetch(`${this.baseUrl}/health`, { redirect: "error" }));
    const health = await expectJson(answer, 200);
    const models = Array.isArray(health.models) ? health.models : [health.model];
    return models.filter((model) => typeof model?.name === "string");
  }

  // model: a served model's name, or "" for the service's default. onUpload(fraction), onJob(status):
  // progress callbacks. Resolves to {document, midiUrl, via, reference}; midiUrl null for a model without MIDI.
  async transcribe(file, model, parameters, { onUpload = () => {}, onJob = () => {} } = {}) {
    if (file.size + MULTIPART_OVERHEAD <= SYNC_LIMIT_BYTES) {
      try {
        return await this.predict(file, model, parameters, onUpload);
      } catch (error) {
        if (!(error instanceof ApiError && TOO_LONG_FOR_A_REQUEST.has(error.code))) throw error;
      }
    }
    return this.job(file, model, parameters, onUpload, onJob);
  }

  async predict(file, model, parameters, onUpload) {
    const form = new FormData();
    if (model) form.append("model", model);
    for (const [name, value] of Object.entries(parameters)) form.append(name, String(value));
    form.append("file", file, file.name);
    // With a key: fetch, which can refuse a redirect (XMLHttpRequest follows one, key and all, to wherever
    // a hostile API points); it reports no upload progress, so the bar fills at the end. Without a key
    // (make serve), XMLHttpRequest and its progress.
    const url = `${this.baseUrl}/predict`;
    const answer = this.apiKey
      ? await withRetries(() => fetch(url, { method: "POST", body: form, redirect: "error", headers: this.keyHeaders() }))
      : await withRetries(() => upload(url, form, {}, onUpload));
    onUpload(1);
    const body = await expectJson(answer, 200);
    const midiUrl = body.downloads.midi_url ? safeLink(body.downloads.midi_url) : null;
    // A result over Lambda's 6 MB answer limit is stored and linked instead (result_in_downloads).
    const document = body.result
      ? body.result
      : await expectJson(await withRetries(() => fetch(requireLink(body.downloads.json_url, "result link"))), 200);
    return { document, midiUrl, via: "predict", reference: body.request_id };
  }

  async job(file, model, parameters, onUpload, onJob) {
    const created = await expectJson(
      await this.call(`${this.baseUrl}/jobs`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          filename: file.name,
          content_type: file.type || "application/octet-stream",
          size_bytes: file.size,
          ...(model ? { model } : {}),
          parameters,
        }),
      }),
      201,
    );
    const statusUrl = this.ownUrl(created.status_url, "status URL");
    const uploadUrl = requireLink(created.upload.url, "upload URL");
    onJob("uploading");
    const form = new FormData();
    for (const [name, value] of Object.entries(created.upload.fields)) form.append(name, value);
    form.append("file", file, file.name); // storage wants the file last
    const stored = await withRetries(() => upload(uploadUrl, form, {}, onUpload));
    if (![200, 201, 204].includes(stored.status)) throw await storageError(stored);

    const deadline = Date.now() + JOB_TIMEOUT_MS;
    for (let interval = 500; ; interval = Math.min(interval * 1.5, 5000)) {
      const status = await expectJson(await this.call(statusUrl), 200);
      onJob(status.status);
      if (status.status === "succeeded") {
        const jsonUrl = requireLink(status.result.json_url, "result link");
        const documentAnswer = await withRetries(() => fetch(jsonUrl));
        const document = await expectJson(documentAnswer, 200);
        const midiUrl = status.result.midi_url ? safeLink(status.result.midi_url) : null;
        return { document, midiUrl, via: "job", reference: created.job_id };
      }
      if (status.status === "failed") {
        const error = status.error || {};
        throw new ApiError({ code: error.code || "job_failed", message: error.message || "the job failed", requestId: created.job_id });
      }
      if (Date.now() + interval > deadline) {
        throw new ApiError({ code: "job_timeout", message: `job ${created.job_id} did not finish within an hour` });
      }
      await sleep(interval);
    }
  }

  // A URL an answer names for the API itself: only on the API's own origin (the key goes there).
  ownUrl(value, what) {
    let url;
    try {
      url = new URL(String(value));
    } catch {
      url = null;
    }
    if (!url || url.origin !== new URL(this.baseUrl).origin) {
      throw new ApiError({ code: "foreign_url", message: `the API answered a ${what} on another origin; the API key goes only to ${new URL(this.baseUrl).origin}` });
    }
    return url.href;
  }

  keyHeaders() {
    return this.apiKey ? { "x-api-key": this.apiKey } : {};
  }

  // fetch on the API's own URLs, with the key and the retries; a redirect is an error, not followed.
  call(url, init = {}) {
    this.ownUrl(url, "URL");
    return withRetries(() =>
      fetch(url, { ...init, redirect: "error", headers: { ...(init.headers || {}), ...this.keyHeaders() } }),
    );
  }
}

// XMLHttpRequest, because fetch cannot report upload progress. Resolves to a Response-like object.
function upload(url, form, headers, onUpload) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", url);
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => event.lengthComputable && onUpload(event.loaded / event.total);
    request.onload = () =>
      resolve({
        status: request.status,
        headers: { get: (name) => request.getResponseHeader(name) },
        text: async () => request.responseText,
        json: async () => JSON.parse(request.responseText),
      });
    request.onerror = () => reject(new ApiError({ code: "network_error", message: `could not reach ${new URL(url).host} (network or CORS)` }));
    request.send(form);
  });
}

async function withRetries(send) {
  for (let attempt = 0; ; attempt++) {
    let answer;
    try {
      answer = await send();
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw new ApiError({ code: "network_error", message: "could not reach the API (network or CORS): check its URL" });
    }
    if (!RETRY_STATUSES.has(answer.status) || attempt === MAX_RETRIES) return answer;
    const asked = retryAfterMs(answer.headers.get("Retry-After"));
    const wait = asked !== null ? asked : 500 * 2 ** attempt + Math.random() * 500;
    await sleep(Math.min(wait, RETRY_AFTER_CAP_MS));
  }
}

// Retry-After in milliseconds from now (delay-seconds or an HTTP date), null when absent or unreadable.
// Capped by the caller: a server asking for 999999 s, or a date in 2099, waits RETRY_AFTER_CAP_MS.
export function retryAfterMs(value) {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const when = Date.parse(text);
  return Number.isNaN(when) ? null : Math.max(0, when - Date.now());
}

async function expectJson(answer, status) {
  let body = null;
  try {
    body = await answer.json();
  } catch {
    // not JSON: described below from the status alone
  }
  if (answer.status === status && body) return body;
  const error = (body && body.error) || {};
  throw new ApiError({
    status: answer.status,
    code: error.code || `http_${answer.status}`,
    message: error.message || "the API answered with an unexpected response",
    requestId: error.request_id || answer.headers.get("X-Request-Id"),
  });
}

async function storageError(answer) {
  const text = await answer.text();
  const xml = new DOMParser().parseFromString(text, "application/xml");
  const code = xml.querySelector("Code")?.textContent || `http_${answer.status}`;
  const message = xml.querySelector("Message")?.textContent || "storage refused the upload";
  return new ApiError({ status: answer.status, code, message: `the upload was refused: ${message}` });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
