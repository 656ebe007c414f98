/**
 * Lumaflow web page: pick photos, choose a pipeline and its options, brush where, run, compare before and after.
 *
 * An ES module (so nothing leaks into the global scope) without dependencies or a build step: the server's
 * Content-Security-Policy allows only same-origin scripts and styles, so everything here builds the DOM with
 * createElement/textContent and sets styles only through the CSSOM (element.style), never inline attributes.
 */

/** How often a job's state is asked for while it is queued or running (the brief: every 250 ms). */
const POLL_MS = 250;
/** Jobs the page has in flight at once; the rest wait in line so one person cannot flood the servers. */
const MAX_PARALLEL = 2;
/** Consecutive failed polls (about 10 s) before a job is given up as unreachable. */
const MAX_POLL_FAILURES = 40;
/** Keys with their own controls on the page, left out of the generated form when the page shows them. */
const OWN_CONTROLS = new Set(["strength", "region_mode", "region_feather"]);
/** Keys the page fills in itself: the server's progress id is the web server's business. */
const PAGE_MANAGED = new Set(["progress"]);
/** File name endings taken as photos when the browser gives no MIME type (HEIC on most systems, raw TIFFs). */
const PHOTO_EXTENSIONS = new Set([
  "jpg", "jpeg", "jpe", "png", "webp", "gif", "bmp", "heic", "heif", "avif", "tif", "tiff", "jxl",
]);
/** Sentences for the typed errors the brief names; others show the server's own message. */
const ERROR_TEXT = {
  InvalidImage: "This file is not a photo the server can read",
  Overloaded: "The server is busy: try again in a moment",
  Unavailable: "The server cannot be reached",
  DeadlineExceeded: "The server took too long to answer: try again, or try a smaller photo",
  UnknownPipeline: "The server does not offer this pipeline (any more): reload the page",
};

/** The page's state in one place, so every render reads the same truth. */
const state = {
  /** @type {Array<object>} photo pipelines as the server lists them */
  pipelines: [],
  /** @type {object|null} the chosen pipeline */
  pipeline: null,
  /** @type {Map<string, {spec: object, read: () => any, write: (v: any) => void}>} generated option controls */
  controls: new Map(),
  /** @type {string} the chosen look (stylize's template) */
  look: "",
  maxUploadBytes: Infinity,
  /** @type {Array<object>} one item per photo in the queue */
  items: [],
  /** @type {object|null} the photo in the viewer */
  selected: null,
  /** whether the person picked the selected photo (then Run sends just it) or the page did */
  pickedByUser: false,
  /** @type {object|null} the photo whose strokes the brush canvas holds now */
  mounted: null,
  /** @type {Array<object>} photos waiting for a free slot */
  line: [],
  active: 0,
  nextKey: 1,
};

/** Elements by id, looked up once (the module runs after the document is parsed). */
const els = Object.fromEntries(
  [
    "error", "drop-zone", "file-input", "folder-input", "pipeline", "pipeline-description", "preset-field", "preset",
    "preset-hint", "looks-field", "looks", "guidance", "strength-field", "strength", "strength-value",
    "strength-hint", "brush-hint", "region-mode-field", "region-mode", "region-feather-field", "region-feather",
    "region-feather-hint", "brush-fields", "brush-size", "brush-size-value", "brush-erase", "brush-clear",
    "options-form", "run", "run-all", "viewer", "viewer-caption", "viewer-empty", "editor", "stage",
    "preview-img", "brush-canvas", "brush-cursor", "preview-status", "show-result", "result-view", "slider",
    "zoom-1to1", "edit-again", "compare", "compare-inner", "before-img", "after-img", "divider", "after-note",
    "applied", "download-all", "queue", "queue-empty",
  ].map((id) => [id, document.getElementById(id)]),
);

/* ------------------------------------------------------------------ small helpers */

/**
 * Create an element with properties and children: the one way this page builds DOM, so text always goes
 * through textContent (file names and server messages are never parsed as HTML).
 * @param {string} tag
 * @param {object} [props] properties set on the element; `dataset` and `attrs` are merged in
 * @param {Array<Node|string>} [children]
 */
function h(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "attrs") for (const [name, v] of Object.entries(value)) node.setAttribute(name, v);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

/** A promise that resolves after `ms`: the polling loop's pause. */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** "noise_level" → "Noise level": option keys read as labels without a table of names. */
function humanize(key) {
  const words = String(key).replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Bytes as MB for messages about the upload limit. */
function megabytes(bytes) {
  return `${Math.round(bytes / 1024 / 1024)} MB`;
}

/** Whether two option values are the same (numbers compared with a tolerance, since sliders round). */
function sameValue(a, b) {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b) < 1e-9;
  return a === b;
}

/** The first non-null JSON Schema type of a property (a type may be a list such as ["number", "null"]). */
function schemaType(spec) {
  return Array.isArray(spec.type) ? spec.type.find((t) => t !== "null") : spec.type;
}

/* ------------------------------------------------------------------ talking to the server */

/** An error the server (or the network) gave, with its type so the page can say it plainly. */
class ApiError extends Error {
  constructor(type, message, status) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

/**
 * fetch() with the page's error handling in one place: a network failure becomes Unavailable, 401 offers the
 * login again, and an error answer's {"error": {"type", "message"}} becomes an ApiError.
 * @returns {Promise<Response>} only ok responses
 */
async function api(path, init = {}) {
  let response;
  try {
    response = await fetch(path, { credentials: "same-origin", ...init });
  } catch (cause) {
    throw new ApiError("Unavailable", ERROR_TEXT.Unavailable, 0);
  }
  if (response.ok) return response;
  let type = "ServerError";
  let message = `The server answered with an error (HTTP ${response.status})`;
  try {
    const body = await response.json();
    if (body && body.error) {
      type = body.error.type || type;
      message = body.error.message || message;
    }
  } catch (ignored) {
    /* not JSON (a proxy's page, say): keep the HTTP status sentence */
  }
  if (response.status === 401) showLoginAgain();
  throw new ApiError(type, message, response.status);
}

/**
 * What to tell the person about an error: the brief's plain sentences for the typed errors it names, the
 * server's own words otherwise (its messages say the limit, the bad option, and so on).
 */
function friendly(error) {
  if (!(error instanceof ApiError)) return error && error.message ? error.message : String(error);
  if (error.status === 401) return "You are not logged in (any more): log in again";
  switch (error.type) {
    case "InvalidImage":
      return error.message && error.message !== ERROR_TEXT.InvalidImage
        ? `${ERROR_TEXT.InvalidImage} (${error.message})`
        : ERROR_TEXT.InvalidImage;
    case "Overloaded":
    case "Unavailable":
    case "DeadlineExceeded":
    case "UnknownPipeline":
      return ERROR_TEXT[error.type];
    case "MaskMismatch":
      return `The brushed area does not fit the photo: ${error.message}`;
    case "Unauthenticated":
      return `The photo servers refused this web page's access token: ${error.message}`;
    default:
      return error.message;
  }
}

/** Show the last error at the top of the page (an alert region, so screen readers announce it). */
function showError(message) {
  els.error.replaceChildren(h("span", { textContent: message }));
}

/** Clear the error area when the person starts something new. */
function clearError() {
  els.error.replaceChildren();
}

/** Any 401: the session ended; the server's own login form is at /login. */
function showLoginAgain() {
  els.error.replaceChildren(
    h("span", { textContent: "Your session has ended. " }),
    h("a", { href: "/login", textContent: "Log in again" }),
  );
}

/* ------------------------------------------------------------------ pipelines and options */

/** Load the photo pipelines once and build the controls for the first one. */
async function loadPipelines() {
  try {
    const body = await (await api("/api/pipelines")).json();
    state.pipelines = (body.pipelines || []).filter((p) => p.kind === "photo");
    const limit = body.limits && Number(body.limits.max_upload_bytes);
    if (limit > 0) state.maxUploadBytes = limit;
  } catch (error) {
    if (error.status !== 401) showError(`Could not load the pipelines: ${friendly(error)}. Reload the page to try again.`);
    els.pipeline.replaceChildren(h("option", { value: "", textContent: "No pipelines" }));
    return;
  }
  if (!state.pipelines.length) {
    els.pipeline.replaceChildren(h("option", { value: "", textContent: "No pipelines" }));
    showError("The server offers no photo pipelines.");
    return;
  }
  els.pipeline.replaceChildren(...state.pipelines.map((p) => h("option", { value: p.name, textContent: p.name })));
  els.pipeline.disabled = false;
  choosePipeline(state.pipelines[0].name);
}

/** Switch to pipeline `name`: its description, presets, looks, guidance controls and generated form. */
function choosePipeline(name) {
  const pipeline = state.pipelines.find((p) => p.name === name);
  if (!pipeline) return;
  state.pipeline = pipeline;
  els.pipeline.value = name;
  els["pipeline-description"].textContent = pipeline.description || "";
  renderPresets(pipeline);
  renderLooks(pipeline);
  renderGuidance(pipeline);
  renderOptionsForm(pipeline);
  renderViewer();
  updateButtons();
}

/** The pipeline's OPTIONS properties (an empty object when it has no schema). */
function properties(pipeline) {
  return (pipeline && pipeline.options_schema && pipeline.options_schema.properties) || {};
}

/** Whether the brush paints the pipeline's MASK (inpaint: what to remove) rather than its REGION. */
function paintsMask(pipeline) {
  return Boolean(pipeline && (pipeline.inputs || []).includes("MASK"));
}

/** Whether the pipeline takes a REGION (where to apply). */
function takesRegion(pipeline) {
  return Boolean(pipeline && (pipeline.inputs || []).includes("REGION")) && !paintsMask(pipeline);
}

/** Whether the brush is of use with this pipeline at all. */
function usesBrush(pipeline) {
  return paintsMask(pipeline) || takesRegion(pipeline);
}

/** Whether the page shows this key with its own control (so the generated form leaves it out). */
function hasOwnControl(pipeline, key) {
  if (OWN_CONTROLS.has(key)) return true;
  if (key === "template") return (pipeline.templates || []).length > 0;
  if (key === "preset") return Object.keys(pipeline.presets || {}).length > 0;
  return PAGE_MANAGED.has(key);
}

/** The preset select: hidden (with its field) when the pipeline has no presets. */
function renderPresets(pipeline) {
  const names = Object.keys(pipeline.presets || {});
  els.preset.replaceChildren(
    h("option", { value: "", textContent: "None" }),
    ...names.map((n) => h("option", { value: n, textContent: humanize(n) })),
  );
  els.preset.value = "";
  els["preset-hint"].textContent = "";
  els["preset-field"].hidden = names.length === 0;
  els.preset.hidden = names.length === 0;
}

/** The looks grid: one button per template (thumbnail and name), grouped under a heading per category (the
 * server lists them grouped), the chosen one marked `selected`. */
function renderLooks(pipeline) {
  const templates = pipeline.templates || [];
  els["looks-field"].hidden = templates.length === 0;
  const spec = properties(pipeline).template || {};
  const names = templates.map((t) => t.name);
  state.look = names.includes(spec.default) ? spec.default : names[0] || "";
  const children = [];
  let category = null;
  for (const look of templates) {
    if (look.category_title && look.category_title !== category) {
      category = look.category_title;
      children.push(h("h3", { className: "look-category", textContent: category }));
    }
    children.push(lookButton(look));
  }
  els.looks.replaceChildren(...children);
  markLook();
}

/** One look's button: its thumbnail and name, its description as the tooltip. */
function lookButton(look) {
  return h(
    "button",
    {
      type: "button",
      className: "look",
      title: look.description || look.name,
      dataset: { template: look.name },
      attrs: { "aria-pressed": "false" },
    },
    [
      look.thumbnail ? h("img", { src: look.thumbnail, alt: "", width: 96, height: 72 }) : h("span", { className: "no-thumb" }),
      h("span", { className: "look-name", textContent: humanize(look.name) }),
    ],
  );
}

/** Reflect state.look on the grid (class and aria-pressed, so it is visible and announced). */
function markLook() {
  for (const button of els.looks.querySelectorAll(".look")) {
    const chosen = button.dataset.template === state.look;
    button.classList.toggle("selected", chosen);
    button.setAttribute("aria-pressed", String(chosen));
  }
}

/**
 * The guidance controls: strength when the schema has it (not for inpaint), region mode and feather for
 * REGION pipelines, the brush for REGION and MASK pipelines; defaults and limits from the schema.
 */
function renderGuidance(pipeline) {
  const props = properties(pipeline);
  const mask = paintsMask(pipeline);
  const region = takesRegion(pipeline);
  const strength = props.strength && !mask ? props.strength : null;

  els["strength-field"].hidden = !strength;
  if (strength) {
    els.strength.min = String(Number.isFinite(strength.minimum) ? strength.minimum : 0);
    els.strength.max = String(Number.isFinite(strength.maximum) ? strength.maximum : 1);
    els.strength.step = "0.05";
    els.strength.value = String(strength.default ?? 1);
    els["strength-hint"].textContent = strength.description || "";
    showStrength();
  }

  els["region-mode-field"].hidden = !(region && props.region_mode);
  els["region-mode"].value = (props.region_mode && props.region_mode.default) || "only";
  const feather = props.region_feather;
  els["region-feather-field"].hidden = !(region && feather);
  if (feather) {
    if (Number.isFinite(feather.minimum)) els["region-feather"].min = String(feather.minimum);
    if (Number.isFinite(feather.maximum)) els["region-feather"].max = String(feather.maximum);
    els["region-feather"].step = schemaType(feather) === "integer" ? "1" : "any";
    els["region-feather"].value = String(feather.default ?? 8);
  }

  els["brush-fields"].hidden = !(region || mask);
  els["brush-hint"].hidden = !(region || mask);
  els["brush-hint"].textContent = mask
    ? "Brush over what to remove on the photo."
    : "Optional: paint on the photo to choose where the enhancement applies. Nothing painted: the whole photo.";
  els.guidance.hidden = !(strength || region || mask);
}

/** Show the strength slider's value next to it. */
function showStrength() {
  els["strength-value"].textContent = Number(els.strength.value).toFixed(2);
}

/**
 * The options form, generated from the schema so that a new option needs no page change: enum → select,
 * boolean → checkbox, number/integer with minimum and maximum → slider plus number box, other numbers → number
 * box, strings → text box. Each control has name = key and id = opt-<key>.
 */
function renderOptionsForm(pipeline) {
  const props = properties(pipeline);
  const required = new Set((pipeline.options_schema && pipeline.options_schema.required) || []);
  state.controls = new Map();
  const fields = [];
  for (const [key, spec] of Object.entries(props)) {
    if (hasOwnControl(pipeline, key) || !spec || typeof spec !== "object") continue;
    const built = buildControl(key, spec, required.has(key));
    state.controls.set(key, { spec, required: required.has(key), read: built.read, write: built.write });
    fields.push(built.field);
  }
  els["options-form"].replaceChildren(...(fields.length ? [h("h3", { textContent: "Options" }), ...fields] : []));
  els["options-form"].hidden = fields.length === 0;
}

/**
 * One generated control with its label and description; read() gives the value to send (undefined = leave it
 * to the server) and write() sets it (for defaults and presets). The kind of control follows the schema.
 */
function buildControl(key, spec, required) {
  const id = `opt-${key}`;
  const parts = {
    key,
    spec,
    id,
    required,
    type: schemaType(spec),
    hasDefault: spec.default !== undefined && spec.default !== null,
    described: { "aria-describedby": `${id}-hint` },
    label: h("label", { htmlFor: id, textContent: humanize(key) + (required ? " (required)" : "") }),
    hint: h("p", { id: `${id}-hint`, className: "hint", textContent: spec.description || "" }),
    field: h("div", { className: "field", dataset: { key } }),
  };
  let built;
  if (Array.isArray(spec.enum)) built = enumControl(parts);
  else if (parts.type === "boolean") built = booleanControl(parts);
  else if (parts.type === "number" || parts.type === "integer") built = numberControl(parts);
  else built = textControl(parts);
  built.write(spec.default);
  return { field: parts.field, ...built };
}

/** enum → a select of its values (an "Automatic" first choice when the schema gives no default). */
function enumControl({ key, spec, id, required, hasDefault, described, label, hint, field }) {
  const select = h("select", { id, name: key, required, attrs: described });
  if (!hasDefault) select.append(h("option", { value: "", textContent: required ? "Choose…" : "Automatic" }));
  for (const value of spec.enum) select.append(h("option", { value: String(value), textContent: String(value) }));
  field.append(label, select, hint);
  return {
    // The enum's own value (a number stays a number), found by its text.
    read: () => (select.value === "" ? undefined : spec.enum.find((v) => String(v) === select.value)),
    write: (value) => {
      select.value = value === undefined || value === null ? "" : String(value);
    },
  };
}

/** boolean → a checkbox, label beside it. */
function booleanControl({ key, id, described, label, hint, field }) {
  const box = h("input", { id, name: key, type: "checkbox", attrs: described });
  field.classList.add("inline");
  field.append(box, label, hint);
  return {
    read: () => box.checked,
    write: (value) => {
      box.checked = Boolean(value);
    },
  };
}

/**
 * number/integer → a number box (id opt-<key>, what is sent), plus a slider kept in step with it when the
 * schema gives both a minimum and a maximum. An empty box leaves the value to the server (e.g. noise_level).
 */
function numberControl({ key, spec, id, required, type, hasDefault, described, label, hint, field }) {
  const box = h("input", { id, name: key, type: "number", step: type === "integer" ? "1" : "any", required, attrs: described });
  if (Number.isFinite(spec.minimum)) box.min = String(spec.minimum);
  if (Number.isFinite(spec.maximum)) box.max = String(spec.maximum);
  if (!hasDefault) box.placeholder = "auto";
  let slider = null;
  if (Number.isFinite(spec.minimum) && Number.isFinite(spec.maximum)) {
    slider = h("input", {
      id: `${id}-range`,
      type: "range",
      min: String(spec.minimum),
      max: String(spec.maximum),
      step: type === "integer" ? "1" : String(niceStep(spec.maximum - spec.minimum)),
      attrs: { "aria-label": `${humanize(key)} slider`, ...described },
    });
    slider.addEventListener("input", () => {
      box.value = slider.value;
    });
    box.addEventListener("input", () => {
      if (box.value.trim() !== "") slider.value = box.value;
    });
  }
  field.append(label, slider ? h("div", { className: "pair" }, [slider, box]) : box, hint);
  return {
    read: () => {
      if (box.value.trim() === "") return undefined;
      const n = Number(box.value);
      if (!Number.isFinite(n)) return undefined;
      return type === "integer" ? Math.round(n) : n;
    },
    write: (value) => {
      box.value = value === undefined || value === null ? "" : String(value);
      if (slider) slider.value = box.value === "" ? String(spec.minimum) : box.value;
    },
  };
}

/** Any other type → a text box (with the schema's pattern, checked by the browser). */
function textControl({ key, spec, id, required, described, label, hint, field }) {
  const text = h("input", { id, name: key, type: "text", required, attrs: described });
  if (typeof spec.pattern === "string") text.pattern = spec.pattern;
  field.append(label, text, hint);
  return {
    read: () => (text.value === "" ? undefined : text.value),
    write: (value) => {
      text.value = value === undefined || value === null ? "" : String(value);
    },
  };
}

/** A slider step of about a hundredth of the range, rounded to 1, 2 or 5 times a power of ten. */
function niceStep(span) {
  if (!(span > 0)) return 1;
  const raw = span / 100;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = [1, 2, 5, 10].find((m) => m * power >= raw) || 10;
  return unit * power;
}

/**
 * Apply the chosen preset to the controls (defaults first, then the preset's values) so the person sees what
 * it sets; the request then names the preset too and the server applies it under the explicit keys.
 */
function applyPreset(name) {
  const pipeline = state.pipeline;
  const values = (pipeline.presets || {})[name] || {};
  for (const [key, control] of state.controls) control.write(key in values ? values[key] : control.spec.default);
  const props = properties(pipeline);
  if (props.strength) els.strength.value = String(values.strength ?? props.strength.default ?? 1);
  showStrength();
  if (props.region_mode) els["region-mode"].value = values.region_mode ?? props.region_mode.default ?? "only";
  if (props.region_feather) els["region-feather"].value = String(values.region_feather ?? props.region_feather.default ?? 8);
  if (typeof values.template === "string") {
    state.look = values.template;
    markLook();
  }
  els["preset-hint"].textContent = name
    ? `Sets ${Object.entries(values).map(([k, v]) => `${humanize(k).toLowerCase()} ${v}`).join(", ")}.`
    : "";
}

/**
 * OPTIONS for a request: the generated controls' values that differ from the schema's defaults, required
 * keys always (template), the guidance values when changed, and the preset's name.
 * @throws {Error} when a required value is missing or a number is out of range
 */
function collectOptions() {
  const pipeline = state.pipeline;
  const props = properties(pipeline);
  const required = new Set((pipeline.options_schema && pipeline.options_schema.required) || []);
  const options = {};
  if (!els["options-form"].checkValidity()) {
    const bad = els["options-form"].querySelector(":invalid");
    const key = bad ? bad.name : "";
    throw new Error(`Check the option “${humanize(key)}”: ${bad ? bad.validationMessage : "it is not valid"}`);
  }
  for (const [key, control] of state.controls) {
    const value = control.read();
    if (value === undefined) {
      if (control.required) throw new Error(`Choose a value for “${humanize(key)}” first`);
      continue;
    }
    if (control.required || !sameValue(value, control.spec.default)) options[key] = value;
  }
  const mask = paintsMask(pipeline);
  if (props.strength && !mask) {
    const strength = Number(els.strength.value);
    if (required.has("strength") || !sameValue(strength, props.strength.default ?? 1)) options.strength = strength;
  }
  if (takesRegion(pipeline)) {
    const mode = els["region-mode"].value;
    if (props.region_mode && (required.has("region_mode") || mode !== (props.region_mode.default ?? "only"))) {
      options.region_mode = mode;
    }
    const feather = Number(els["region-feather"].value);
    if (props.region_feather && els["region-feather"].value !== "") {
      if (!Number.isFinite(feather) || feather < Number(els["region-feather"].min || 0) ||
          feather > Number(els["region-feather"].max || Infinity)) {
        throw new Error(`The soft edge must be between ${els["region-feather"].min} and ${els["region-feather"].max} pixels`);
      }
      if (required.has("region_feather") || !sameValue(feather, props.region_feather.default ?? 8)) {
        options.region_feather = feather;
      }
    }
  }
  if ((pipeline.templates || []).length) {
    if (!state.look) throw new Error("Choose a look first");
    const spec = props.template || {};
    if (required.has("template") || state.look !== spec.default) options.template = state.look;
  }
  if (els.preset.value && !els.preset.hidden) options.preset = els.preset.value;
  return options;
}

/* ------------------------------------------------------------------ adding photos */

/** Whether a file looks like a photo: an image MIME type, or a photo ending when the browser gives none. */
function isPhoto(file) {
  if (file.type && file.type.startsWith("image/")) return true;
  const ending = (file.name.split(".").pop() || "").toLowerCase();
  return PHOTO_EXTENSIONS.has(ending);
}

/** Add files to the queue (non-photos such as a folder's .DS_Store are skipped and counted). */
function addFiles(files) {
  const list = Array.from(files);
  const photos = list.filter(isPhoto);
  const skipped = list.length - photos.length;
  for (const file of photos) addItem(file);
  if (skipped > 0) showError(`${skipped} file${skipped === 1 ? " is" : "s are"} not a photo and ${skipped === 1 ? "was" : "were"} left out.`);
  if (!state.selected && state.items.length) select(state.items[0], false);
  updateButtons();
}

/** One queue entry for a file: its list item, and the photo over the upload limit refused at once. */
function addItem(file) {
  const item = {
    key: state.nextKey++,
    file,
    name: file.webkitRelativePath || file.name,
    status: "new",
    error: "",
    id: "",
    job: null,
    preview: null,
    previewPromise: null,
    paint: null,
    painted: false,
    run: 0,
    view: "result",
  };
  item.li = buildJobElement(item);
  state.items.push(item);
  els.queue.append(item.li);
  els["queue-empty"].hidden = true;
  if (file.size > state.maxUploadBytes) {
    item.previewError = `The file is larger than the server takes (${megabytes(state.maxUploadBytes)})`;
    item.previewLasting = true;
    fail(item, item.previewError);
  }
  renderItem(item);
}

/**
 * Files dropped on the drop zone, folders included: directory entries are walked so a folder's worth of
 * photos arrives as individual files.
 */
async function filesFromDrop(dataTransfer) {
  const entries = Array.from(dataTransfer.items || [])
    .map((entry) => (entry.webkitGetAsEntry ? entry.webkitGetAsEntry() : null))
    .filter(Boolean);
  if (!entries.length) return Array.from(dataTransfer.files || []);
  const files = [];
  for (const entry of entries) await walkEntry(entry, files);
  return files;
}

/** Collect the files under a dropped entry (readEntries returns batches, so it is called until empty). */
async function walkEntry(entry, files) {
  if (entry.isFile) {
    const file = await new Promise((resolve) => entry.file(resolve, () => resolve(null)));
    if (file) files.push(file);
    return;
  }
  if (!entry.isDirectory) return;
  const reader = entry.createReader();
  for (;;) {
    const batch = await new Promise((resolve) => reader.readEntries(resolve, () => resolve([])));
    if (!batch.length) break;
    for (const child of batch) await walkEntry(child, files);
  }
}

/* ------------------------------------------------------------------ the queue */

/** The list item of a photo: name, state, progress bar, download button; clicking it shows it in the viewer. */
function buildJobElement(item) {
  const li = h("li", { className: "job", dataset: { name: item.file.name, id: "" } });
  const name = h("button", { type: "button", className: "job-name", textContent: item.name, title: item.name });
  const stateText = h("span", { className: "state" });
  const bar = h("progress", { className: "bar", max: 1, value: 0, attrs: { "aria-label": `Progress of ${item.name}` } });
  const download = h("button", { type: "button", className: "download", textContent: "Download", disabled: true });
  download.addEventListener("click", (event) => {
    event.stopPropagation();
    downloadResult(item);
  });
  li.addEventListener("click", () => select(item, true));
  li.append(name, stateText, bar, download);
  return li;
}

/** The words for a photo's state: Waiting / Running 45% — detail / Done / Failed: message. */
function stateText(item) {
  switch (item.status) {
    case "new":
      return "Waiting";
    case "lined":
      return "Waiting for a free slot";
    case "sending":
      return "Sending";
    case "queued":
      return "Queued on the server";
    case "running": {
      const progress = (item.job && item.job.progress) || {};
      const pct = typeof progress.fraction === "number" ? ` ${Math.round(progress.fraction * 100)}%` : "";
      const about = progress.source === "estimate" ? " (estimate)" : "";
      return `Running${pct}${progress.detail ? ` — ${progress.detail}` : ""}${pct ? about : ""}`;
    }
    case "done":
      return "Done";
    case "failed":
      return `Failed: ${item.error}`;
    default:
      return item.status;
  }
}

/** Update one list item from the photo's state (text, bar, download button, selection). */
function renderItem(item) {
  const li = item.li;
  li.dataset.id = item.id || "";
  li.dataset.state = item.status;
  li.classList.toggle("selected", item === state.selected);
  if (item === state.selected) li.setAttribute("aria-current", "true");
  else li.removeAttribute("aria-current");
  li.querySelector(".state").textContent = stateText(item);
  const bar = li.querySelector("progress.bar");
  const fraction = item.job && item.job.progress ? item.job.progress.fraction : null;
  if (item.status === "done") bar.value = 1;
  else if (item.status === "running" && typeof fraction === "number") bar.value = Math.min(1, Math.max(0, fraction));
  else if (["sending", "queued", "running"].includes(item.status)) bar.removeAttribute("value");
  else bar.value = 0;
  const download = li.querySelector("button.download");
  const done = item.status === "done" && item.job && item.job.result_url;
  download.disabled = !done;
  if (done) download.dataset.href = item.job.result_url;
  else delete download.dataset.href;
}

/** Mark a photo failed with a message (its list item says it, and the error area too). */
function fail(item, message) {
  item.status = "failed";
  item.error = message;
  renderItem(item);
  if (item === state.selected) renderViewer();
}

/** Enable the buttons that have something to do, and say what Run will send. */
function updateButtons() {
  const waiting = state.items.filter((i) => i.status === "new");
  const target = runTargets();
  els.run.disabled = !state.pipeline || target.length === 0;
  if (state.pickedByUser && state.selected) {
    els.run.textContent = state.selected.status === "done" || state.selected.status === "failed"
      ? "Enhance this photo again"
      : "Enhance the selected photo";
  } else {
    els.run.textContent = waiting.length > 1 ? `Enhance ${waiting.length} photos` : "Enhance";
  }
  const others = waiting.filter((i) => i !== state.selected);
  els["run-all"].hidden = !(state.pickedByUser && others.length > 0);
  els["run-all"].disabled = !state.pipeline;
  els["run-all"].textContent = `Enhance all ${waiting.length} waiting`;
  els["download-all"].disabled = !state.items.some((i) => i.status === "done");
}

/** What Run sends: the photo the person picked (if not already under way), else every waiting photo. */
function runTargets() {
  if (state.pickedByUser && state.selected) {
    return ["new", "done", "failed"].includes(state.selected.status) ? [state.selected] : [];
  }
  return state.items.filter((i) => i.status === "new");
}

/**
 * Run: capture the pipeline, options and each photo's brush now (later edits must not change what was asked),
 * then put the photos in line; at most MAX_PARALLEL are in flight.
 */
async function run(items) {
  clearError();
  const pipeline = state.pipeline;
  if (!pipeline || !items.length) return;
  let options;
  try {
    options = collectOptions();
  } catch (error) {
    showError(error.message);
    return;
  }
  saveBrush();
  const guideName = paintsMask(pipeline) ? "mask" : takesRegion(pipeline) ? "region" : "";
  const unpainted = [];
  for (const item of items) {
    if (item.file.size > state.maxUploadBytes) {
      fail(item, `The file is larger than the server takes (${megabytes(state.maxUploadBytes)})`);
      continue;
    }
    const guide = guideName ? await exportGuide(item) : null;
    if (guideName === "mask" && !guide) {
      unpainted.push(item);
      continue;
    }
    item.request = { pipeline: pipeline.name, options, guideName, guide };
    item.status = "lined";
    item.error = "";
    item.run += 1;
    item.view = "result";
    state.line.push(item);
    renderItem(item);
  }
  if (unpainted.length) {
    const names = unpainted.length > 3 ? `${unpainted.length} photos` : unpainted.map((i) => i.name).join(", ");
    showError(`Brush over what to remove first (${names}).`);
  }
  pump();
  renderViewer();
  updateButtons();
}

/** Start photos from the line while fewer than MAX_PARALLEL are in flight. */
function pump() {
  while (state.active < MAX_PARALLEL && state.line.length) {
    const item = state.line.shift();
    state.active += 1;
    send(item)
      .catch((error) => fail(item, friendly(error)))
      .finally(() => {
        state.active -= 1;
        pump();
        updateButtons();
      });
  }
}

/** POST one photo as a job, then follow it until it is done or failed. */
async function send(item) {
  const { pipeline, options, guideName, guide } = item.request;
  const runNumber = item.run;
  item.status = "sending";
  item.id = "";
  item.job = null;
  renderItem(item);
  if (item === state.selected) renderViewer();
  const body = new FormData();
  body.append("file", item.file, item.file.name);
  body.append("pipeline", pipeline);
  body.append("options", JSON.stringify(options));
  if (guide) body.append(guideName, guide, `${guideName}.png`);
  let answer;
  try {
    answer = await (await api("/api/jobs", { method: "POST", body })).json();
  } catch (error) {
    const message = friendly(error);
    fail(item, message);
    showError(`${item.name}: ${message}`);
    return;
  }
  item.id = answer.id;
  item.status = answer.state === "running" ? "running" : "queued";
  renderItem(item);
  await follow(item, runNumber);
}

/** Poll a job every POLL_MS while it is queued or running; network hiccups are retried for a while. */
async function follow(item, runNumber) {
  let failures = 0;
  while (item.run === runNumber) {
    let job;
    try {
      job = await (await api(`/api/jobs/${encodeURIComponent(item.id)}`, { cache: "no-store" })).json();
      failures = 0;
    } catch (error) {
      const gone = error instanceof ApiError && (error.status === 404 || error.status === 401);
      failures += 1;
      if (gone || failures >= MAX_POLL_FAILURES) {
        const message = error.status === 404 ? "The server no longer has this job (it may have restarted)" : friendly(error);
        fail(item, message);
        return;
      }
      await sleep(POLL_MS);
      continue;
    }
    if (item.run !== runNumber) return;
    updateFromJob(item, job);
    if (job.state === "done" || job.state === "failed") return;
    await sleep(POLL_MS);
  }
}

/** Take a job's answer into the photo's state and redraw what shows it. */
function updateFromJob(item, job) {
  const before = item.status;
  item.job = job;
  if (job.state === "failed") {
    const error = job.error || {};
    const message = friendly(new ApiError(error.type || "ServerError", error.message || "The job failed", 0));
    fail(item, message);
    showError(`${item.name}: ${message}`);
    return;
  }
  item.status = ["queued", "running", "done"].includes(job.state) ? job.state : item.status;
  renderItem(item);
  if (item === state.selected && (item.status !== before || item.status !== "running")) renderViewer();
  else if (item === state.selected) renderCaption(item);
  if (item.status === "done") updateButtons();
}

/** Save a done photo's result under the server's download name. */
function downloadResult(item) {
  if (!item.job || !item.job.result_url) return;
  saveLink(item.job.result_url, item.job.download_name || "");
}

/** Download all done photos' results as one zip. */
function downloadAll() {
  const ids = state.items.filter((i) => i.status === "done" && i.id).map((i) => encodeURIComponent(i.id));
  if (!ids.length) return;
  saveLink(`/api/zip?ids=${ids.join(",")}`, "lumaflow.zip");
}

/** Follow a same-origin link as a download (a temporary <a download>: no new window, no navigation). */
function saveLink(href, name) {
  const link = h("a", { href, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
}

/* ------------------------------------------------------------------ the viewer */

/**
 * Show a photo in the viewer. `byUser` distinguishes a person's click (then Run sends just this photo) from the
 * page selecting the first photo added.
 */
function select(item, byUser) {
  const previous = state.selected;
  state.selected = item;
  if (item.previewError && !item.previewLasting) item.previewError = "";
  state.pickedByUser = byUser || (state.pickedByUser && previous === item);
  if (previous && previous !== item) renderItem(previous);
  renderItem(item);
  renderViewer();
  updateButtons();
}

/** The caption over the viewer: which photo and its state. */
function renderCaption(item) {
  els["viewer-caption"].textContent = item ? `${item.name} — ${stateText(item)}` : "";
}

/** Draw the viewer for the selected photo: the editor (preview and brush) or, when done, before/after. */
function renderViewer() {
  const item = state.selected;
  renderCaption(item);
  els["viewer-empty"].hidden = Boolean(item);
  if (!item) {
    els.editor.hidden = true;
    els["result-view"].hidden = true;
    return;
  }
  const done = item.status === "done" && item.job;
  if (done && item.view !== "edit") {
    els.editor.hidden = true;
    els["result-view"].hidden = false;
    showResult(item);
    return;
  }
  els["result-view"].hidden = true;
  els.editor.hidden = false;
  els["show-result"].hidden = !done;
  showEditor(item);
}

/** The editor for a photo: its server preview with the brush canvas over it (fetching the preview once). */
function showEditor(item) {
  const brush = usesBrush(state.pipeline);
  els.stage.classList.toggle("brushing", brush);
  els["brush-canvas"].hidden = !brush || !item.preview;
  if (item.preview) {
    if (els["preview-img"].src !== item.preview.url) {
      els["preview-img"].src = item.preview.url;
      els["preview-img"].alt = `Preview of ${item.name}`;
    }
    els["preview-img"].hidden = false;
    mountBrush(item);
    els["preview-status"].textContent = brush
      ? `${item.preview.width} × ${item.preview.height} px. ${paintsMask(state.pipeline) ? "Brush over what to remove." : "Paint where to apply (optional)."}`
      : `${item.preview.width} × ${item.preview.height} px.`;
    return;
  }
  els["preview-img"].hidden = true;
  els["preview-img"].removeAttribute("src");
  unmountBrush();
  if (item.previewError) {
    els["preview-status"].textContent = `No preview: ${item.previewError}`;
    return;
  }
  els["preview-status"].textContent = "Reading the photo on the server…";
  loadPreview(item);
}

/**
 * Ask the server for the photo as it decodes it (upright sRGB PNG: HEIC, TIFF and 16-bit photos display too),
 * once per photo; a lasting error (not a photo, too large) fails the photo, a passing one may be retried.
 */
function loadPreview(item) {
  if (item.previewPromise) return;
  const body = new FormData();
  body.append("file", item.file, item.file.name);
  item.previewPromise = (async () => {
    try {
      const response = await api("/api/preview", { method: "POST", body });
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      let width = Number(response.headers.get("X-Width"));
      let height = Number(response.headers.get("X-Height"));
      if (!(width > 0 && height > 0)) [width, height] = await naturalSize(url);
      item.preview = { url, width, height };
      item.previewError = "";
    } catch (error) {
      const message = friendly(error);
      const lasting = error instanceof ApiError && ["InvalidImage", "ImageTooLarge"].includes(error.type);
      item.previewError = lasting ? message : `${message}. Select the photo again to retry.`;
      item.previewLasting = lasting;
      if (lasting) fail(item, message);
      if (error.status !== 401) showError(`${item.name}: ${message}`);
    } finally {
      item.previewPromise = null;
      if (item === state.selected) renderViewer();
    }
  })();
}

/** An image URL's natural size (when the server sent no size headers). */
function naturalSize(url) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve([img.naturalWidth, img.naturalHeight]);
    img.onerror = () => resolve([0, 0]);
    img.src = url;
  });
}

/** Before/after for a done photo: both images stacked, the slider's divider, zoom, and what was applied. */
function showResult(item) {
  const job = item.job;
  if (els.compare.dataset.job !== job.id) {
    els.compare.dataset.job = job.id;
    els["before-img"].src = job.before_url;
    const format = (job.info && job.info.output && job.info.output.format) || "png";
    const shows = ["png", "jpeg", "jpg", "webp"].includes(String(format).toLowerCase());
    els["after-img"].hidden = !shows;
    if (shows) els["after-img"].src = job.result_url;
    else els["after-img"].removeAttribute("src");
    els["after-note"].textContent = shows ? "" : `This browser cannot show ${format} files: download the result to see it.`;
  }
  setDivider(Number(els.slider.value));
  renderApplied(item);
}

/** Put the divider at `percent` of the width: BEFORE shows to its left, AFTER to its right. */
function setDivider(percent) {
  const value = Math.min(100, Math.max(0, Number.isFinite(percent) ? percent : 50));
  els["compare-inner"].style.setProperty("--split", `${value}%`);
}

/** 1:1 shows both images at their natural size in the scrolled container (they pan together); else fit. */
function setZoom(actual) {
  els.compare.classList.toggle("actual", actual);
}

/** Drag the divider's handle: the slider follows, so keyboard and pointer stay in step. */
function dragDivider(event) {
  const rect = els["compare-inner"].getBoundingClientRect();
  if (!rect.width) return;
  const percent = Math.round(((event.clientX - rect.left) / rect.width) * 100);
  els.slider.value = String(Math.min(100, Math.max(0, percent)));
  setDivider(Number(els.slider.value));
}

/** What was applied, in words, from the server's INFO. */
function renderApplied(item) {
  const job = item.job;
  const info = job.info || {};
  const rows = [];
  const add = (term, ...details) => rows.push(h("dt", { textContent: term }), h("dd", {}, details));

  add("Pipeline", job.pipeline || info.pipeline || "");
  if (Array.isArray(info.route) && info.route.length) {
    add(
      "Route",
      h(
        "ol",
        { className: "route" },
        info.route.map((step) => h("li", {}, [h("strong", { textContent: step.stage }), ` — ${step.why || ""}`])),
      ),
    );
  }
  if (Array.isArray(info.stages) && info.stages.length) add("Stages", info.stages.join(" → "));

  if (info.quality && typeof info.quality.output === "number") add("Quality", ...qualityDetails(info.quality));
  if (typeof info.strength === "number") add("Strength", fixed(info.strength, 2));
  if (info.region) add("Region", regionWords(info.region));
  if (info.output) add("Output", outputWords(info.output));
  if (typeof job.elapsed_s === "number") add("Total time", `${fixed(job.elapsed_s)} s`);
  if (info.timings_ms && typeof info.timings_ms === "object") {
    const steps = Object.entries(info.timings_ms).map(([stage, ms]) => `${stage} ${Math.round(Number(ms))} ms`);
    if (steps.length) add("Server time", steps.join(", "));
  }
  els.applied.replaceChildren(h("h3", { textContent: "What was applied" }), h("dl", {}, rows));
}

/** The quality check in words, with a visible warning when the result scored worse than the input. */
function qualityDetails(quality) {
  const compared = quality.compared_with ? `, compared with ${quality.compared_with}` : "";
  const details = [`Quality score ${fixed(quality.input)} → ${fixed(quality.output)} (higher is better)${compared}`];
  if (quality.worse) {
    details.push(
      h("p", {
        className: "warning",
        textContent: "Warning: the result scored worse than the input. Compare them before keeping it.",
      }),
    );
  }
  return details;
}

/** INFO's region (mode, coverage 0..1, feather, tiles left out) as a sentence. */
function regionWords(region) {
  const words = [region.mode === "except" ? "Everywhere except where brushed" : "Only where brushed"];
  if (typeof region.coverage === "number") words.push(`${fixed(region.coverage * 100)}% of the photo brushed`);
  if (region.feather_px !== undefined) words.push(`soft edge ${region.feather_px} px`);
  if (region.tiles_left_out !== undefined) {
    words.push(`${region.tiles_left_out} tile${region.tiles_left_out === 1 ? "" : "s"} left out`);
  }
  return words.join("; ");
}

/** INFO's output: size and format, plus any notes the server added (e.g. about the colour profile). */
function outputWords(output) {
  const notes = Object.entries(output)
    .filter(([key, value]) => !["width", "height", "format"].includes(key) && typeof value === "string")
    .map(([key, value]) => `${humanize(key).toLowerCase()}: ${value}`);
  return [`${output.width} × ${output.height} px, ${String(output.format || "").toUpperCase()}`, ...notes].join("; ");
}

/** A number with one (or `digits`) decimals, or a dash when the server gave none. */
function fixed(value, digits = 1) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

/* ------------------------------------------------------------------ the brush */

/** Capture a pointer so a drag continues outside the element (a pointer that is already gone cannot be). */
function capture(element, pointerId) {
  try {
    element.setPointerCapture(pointerId);
  } catch (ignored) {
    /* InvalidPointerId: the pointer ended already; the drag simply stops at the element's edge */
  }
}

/** Per-stroke state of the pointer on the brush canvas. */
const stroke = { pointerId: null, last: null };

/**
 * Put a photo's strokes on the brush canvas (sized to the photo's natural upright size, scaled by CSS), keeping
 * the previous photo's strokes in its own offscreen canvas: each photo has its own brush.
 */
function mountBrush(item) {
  if (state.mounted === item) return;
  saveBrush();
  const canvas = els["brush-canvas"];
  canvas.width = item.preview.width;
  canvas.height = item.preview.height;
  if (item.paint) canvas.getContext("2d").drawImage(item.paint, 0, 0);
  state.mounted = item;
}

/** Keep the mounted photo's strokes before the canvas shows another photo (or before exporting). */
function saveBrush() {
  const item = state.mounted;
  if (!item || !item.painted) return;
  const canvas = els["brush-canvas"];
  if (!item.paint) item.paint = h("canvas", { width: canvas.width, height: canvas.height });
  const ctx = item.paint.getContext("2d");
  ctx.clearRect(0, 0, item.paint.width, item.paint.height);
  ctx.drawImage(canvas, 0, 0);
}

/** Detach the canvas from any photo (the next mount redraws it). */
function unmountBrush() {
  saveBrush();
  state.mounted = null;
  const canvas = els["brush-canvas"];
  canvas.width = 1;
  canvas.height = 1;
  canvas.hidden = true;
}

/** A pointer position in PHOTO pixels (the canvas is the photo's natural size, drawn smaller by CSS). */
function photoPoint(event) {
  const canvas = els["brush-canvas"];
  const rect = canvas.getBoundingClientRect();
  return {
    x: ((event.clientX - rect.left) * canvas.width) / rect.width,
    y: ((event.clientY - rect.top) * canvas.height) / rect.height,
  };
}

/** Draw one round segment (or a dot) of the brush's size in photo pixels; erase mode removes paint. */
function drawSegment(from, to) {
  const ctx = els["brush-canvas"].getContext("2d");
  const size = Number(els["brush-size"].value);
  ctx.save();
  ctx.globalCompositeOperation = els["brush-erase"].checked ? "destination-out" : "source-over";
  ctx.strokeStyle = ctx.fillStyle = "#ff2a2a";
  ctx.lineWidth = size;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  if (from.x === to.x && from.y === to.y) {
    ctx.arc(to.x, to.y, size / 2, 0, Math.PI * 2);
    ctx.fill();
  } else {
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  }
  ctx.restore();
}

/** Start a stroke: capture the pointer so the stroke continues outside the canvas. */
function brushDown(event) {
  if (!state.mounted || (event.pointerType === "mouse" && event.button !== 0)) return;
  event.preventDefault();
  capture(els["brush-canvas"], event.pointerId);
  stroke.pointerId = event.pointerId;
  stroke.last = photoPoint(event);
  drawSegment(stroke.last, stroke.last);
  if (!els["brush-erase"].checked) state.mounted.painted = true;
}

/** Continue the stroke through every coalesced pointer position (smooth lines on fast moves). */
function brushMove(event) {
  moveCursor(event);
  if (event.pointerId !== stroke.pointerId || !stroke.last) return;
  const events = typeof event.getCoalescedEvents === "function" ? event.getCoalescedEvents() : [];
  for (const e of events.length ? events : [event]) {
    const point = photoPoint(e);
    drawSegment(stroke.last, point);
    stroke.last = point;
  }
}

/** End the stroke. */
function brushUp(event) {
  if (event.pointerId !== stroke.pointerId) return;
  stroke.pointerId = null;
  stroke.last = null;
}

/** A circle that shows the brush's size where the pointer is (in displayed pixels). */
function moveCursor(event) {
  const cursor = els["brush-cursor"];
  const canvas = els["brush-canvas"];
  const rect = canvas.getBoundingClientRect();
  if (!rect.width || canvas.hidden) {
    cursor.hidden = true;
    return;
  }
  const diameter = (Number(els["brush-size"].value) * rect.width) / canvas.width;
  cursor.hidden = false;
  cursor.style.width = `${diameter}px`;
  cursor.style.height = `${diameter}px`;
  cursor.style.transform = `translate(${event.clientX - rect.left - diameter / 2}px, ${event.clientY - rect.top - diameter / 2}px)`;
}

/** Clear the selected photo's brush. */
function clearBrush() {
  const item = state.mounted;
  const canvas = els["brush-canvas"];
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  if (item) {
    item.painted = false;
    item.paint = null;
  }
}

/** The canvas that holds a photo's strokes now: the visible one when mounted, else its offscreen copy. */
function brushSource(item) {
  if (!item.painted) return null;
  if (state.mounted === item) return els["brush-canvas"];
  return item.paint;
}

/** Whether a canvas has any paint at all (everything erased counts as nothing painted). */
function hasPaint(canvas) {
  try {
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
    return false;
  } catch (ignored) {
    return true; /* too large to read back: assume painted and let the server judge */
  }
}

/**
 * The brush as the server reads it: an opaque PNG of the photo's natural size, white where painted, black
 * elsewhere (soft stroke edges become grey levels). Null when nothing was painted.
 * @returns {Promise<Blob|null>}
 */
async function exportGuide(item) {
  const source = brushSource(item);
  if (!source || !item.preview || !hasPaint(source)) return null;
  const out = h("canvas", { width: item.preview.width, height: item.preview.height });
  const ctx = out.getContext("2d");
  ctx.drawImage(source, 0, 0);
  ctx.globalCompositeOperation = "source-in";
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.globalCompositeOperation = "destination-over";
  ctx.fillStyle = "#000000";
  ctx.fillRect(0, 0, out.width, out.height);
  return new Promise((resolve) => out.toBlob(resolve, "image/png"));
}

/* ------------------------------------------------------------------ wiring */

/** Keep the drop zone's look in step with a drag over it, and take the dropped files and folders. */
function wireDropZone() {
  const zone = els["drop-zone"];
  const over = (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  };
  zone.addEventListener("dragenter", over);
  zone.addEventListener("dragover", over);
  zone.addEventListener("dragleave", (event) => {
    if (!zone.contains(event.relatedTarget)) zone.classList.remove("dragging");
  });
  zone.addEventListener("drop", async (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    addFiles(await filesFromDrop(event.dataTransfer));
  });
  // A drop that misses the zone must not navigate away from the page (and lose the queue).
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => {
    if (!zone.contains(event.target)) event.preventDefault();
  });
}

/** Every event listener of the page, in one place. */
function wire() {
  wireDropZone();
  for (const input of [els["file-input"], els["folder-input"]]) {
    input.addEventListener("change", () => {
      addFiles(input.files || []);
      input.value = "";
    });
  }
  els.pipeline.addEventListener("change", () => choosePipeline(els.pipeline.value));
  els.preset.addEventListener("change", () => applyPreset(els.preset.value));
  els.looks.addEventListener("click", (event) => {
    const button = event.target.closest(".look");
    if (!button) return;
    state.look = button.dataset.template;
    markLook();
  });
  els.strength.addEventListener("input", showStrength);
  els["brush-size"].addEventListener("input", () => {
    els["brush-size-value"].textContent = `${els["brush-size"].value} px`;
  });
  els["brush-clear"].addEventListener("click", clearBrush);
  els["options-form"].addEventListener("submit", (event) => event.preventDefault());

  const canvas = els["brush-canvas"];
  canvas.addEventListener("pointerdown", brushDown);
  canvas.addEventListener("pointermove", brushMove);
  canvas.addEventListener("pointerup", brushUp);
  canvas.addEventListener("pointercancel", brushUp);
  canvas.addEventListener("pointerleave", () => {
    els["brush-cursor"].hidden = true;
  });

  els.run.addEventListener("click", () => run(runTargets()));
  els["run-all"].addEventListener("click", () => run(state.items.filter((i) => i.status === "new")));
  els["download-all"].addEventListener("click", downloadAll);

  els.slider.addEventListener("input", () => setDivider(Number(els.slider.value)));
  els["zoom-1to1"].addEventListener("change", () => setZoom(els["zoom-1to1"].checked));
  els["edit-again"].addEventListener("click", () => {
    if (!state.selected) return;
    state.selected.view = "edit";
    state.pickedByUser = true;
    renderViewer();
    updateButtons();
  });
  els["show-result"].addEventListener("click", () => {
    if (!state.selected) return;
    state.selected.view = "result";
    renderViewer();
  });

  const divider = els.divider;
  divider.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    capture(divider, event.pointerId);
    dragDivider(event);
  });
  divider.addEventListener("pointermove", (event) => {
    if (event.buttons & 1) dragDivider(event);
  });
}

/** Start: controls first (files can be added while the pipelines load), then the pipelines. */
function main() {
  wire();
  setDivider(Number(els.slider.value));
  setZoom(els["zoom-1to1"].checked);
  els["brush-size-value"].textContent = `${els["brush-size"].value} px`;
  renderViewer();
  updateButtons();
  loadPipelines();
}

main();
