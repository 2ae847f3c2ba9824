// The reading-room viewer (a Streamlit v2 component; ui/diagnose/viewer.py mounts it, review/viewer.py builds its data).
// Everything a reader does to the view happens here, without the server: zoom (wheel), pan (drag), fit
// (double-click, the Fit button or its key), each layer on or off, all layers (their key), the layers' opacity and
// Grad-CAM's threshold. Both panels share one view. Text from the server is set as text, never as markup.

const ZOOM_PER_WHEEL_PIXEL = 0.0015;
const MAX_PIXEL_SCALE = 40; // at most 40 screen pixels per image pixel
const MIN_FIT_SHARE = 0.5; // zoomed out to at most half the fitted size
const REMEMBERED_IMAGES = 50;
const VIEWS = new Map(); // per image (data.id): the view and the reader's layer settings, kept across redraws
const KEYS_TYPED_IN = new Set(["text", "search", "email", "number", "password", "tel", "url", "date", "time"]);

function element(tag, className, text) {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined) made.textContent = text;
    return made;
}

function settingsFor(data) {
    if (!VIEWS.has(data.id)) {
        VIEWS.set(data.id, {
            view: null,
            on: Object.fromEntries(data.layers.map((layer) => [layer.id, false])),
            opacity: data.opacity,
            threshold: data.threshold,
        });
        if (VIEWS.size > REMEMBERED_IMAGES) VIEWS.delete(VIEWS.keys().next().value); // the oldest image
    }
    return VIEWS.get(data.id);
}

function build(parent) {
    const root = element("div", "xv");
    const panels = element("div", "xv-panels");
    const makePanel = (name) => {
        const panel = element("figure", "xv-panel");
        panel.dataset.panel = name;
        const title = element("figcaption", "xv-title");
        const port = element("div", "xv-port");
        const stage = element("div", "xv-stage");
        const xray = element("img", "xv-xray");
        xray.alt = "";
        xray.draggable = false;
        stage.append(xray);
        port.append(stage);
        panel.append(title, port);
        panels.append(panel);
        return { title, port, stage, xray };
    };
    const plain = makePanel("plain");
    const explained = makePanel("explained");
    const readout = element("div", "xv-readout", "\u00a0");
    const controls = element("div", "xv-controls");
    const legend = element("div", "xv-legend");
    const sliders = element("div", "xv-sliders");
    const opacity = slider(sliders, "Layer opacity", 0, 1, 0.05);
    const threshold = slider(sliders, "Grad-CAM drawn from", 0, 0.95, 0.05);
    threshold.input.title = "Grad-CAM's relative response below this is left clear, as reading-room viewers draw heat maps.";
    const buttons = element("div", "xv-buttons");
    const fit = element("button", "xv-button");
    const all = element("button", "xv-button");
    buttons.append(fit, all);
    controls.append(legend, sliders, buttons);
    const help = element("p", "xv-help");
    root.append(panels, readout, controls, help);
    parent.append(root);
    return { root, panels: [plain, explained], plain, explained, readout, legend, opacity, threshold, fit, all, help,
             layers: new Map(), layersSent: null, data: null, settings: null, imageWanted: null, imageLoad: null };
}

function slider(parent, label, min, max, step) {
    const wrapper = element("label", "xv-slider");
    const name = element("span", "xv-slider-name", label);
    const value = element("span", "xv-slider-value");
    const input = element("input");
    Object.assign(input, { type: "range", min, max, step });
    wrapper.append(name, input, value);
    parent.append(wrapper);
    return { input, value };
}

// The view: image pixel (x, y) shows at port pixel (tx + s x, ty + s y), the same in both panels.
function fitScale(viewer) {
    const port = viewer.plain.port.getBoundingClientRect();
    return Math.min(port.width / viewer.data.width, port.height / viewer.data.height);
}

function fitView(viewer) {
    const port = viewer.plain.port.getBoundingClientRect();
    const s = fitScale(viewer);
    viewer.settings.view = {
        s, tx: (port.width - s * viewer.data.width) / 2, ty: (port.height - s * viewer.data.height) / 2, fitted: true,
    };
    applyView(viewer);
}

function applyView(viewer) {
    const { view } = viewer.settings;
    for (const panel of viewer.panels) {
        panel.stage.style.transform = `translate(${view.tx}px, ${view.ty}px) scale(${view.s})`;
    }
}

function zoomAt(viewer, px, py, factor) {
    const { view } = viewer.settings;
    const scale = Math.min(Math.max(view.s * factor, fitScale(viewer) * MIN_FIT_SHARE), MAX_PIXEL_SCALE);
    const applied = scale / view.s;
    view.tx = px - (px - view.tx) * applied;
    view.ty = py - (py - view.ty) * applied;
    view.s = scale;
    view.fitted = false;
    applyView(viewer);
}

// True while the reader types: in a text box the viewer's keys are letters. Its own checkboxes, sliders and buttons
// leave the keys to it.
function typing(event) {
    const target = event.composedPath()[0];
    if (!(target instanceof HTMLElement)) return false;
    if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
    return target.tagName === "INPUT" && KEYS_TYPED_IN.has(target.type);
}

function listen(viewer) {
    let drag = null;
    const viewShown = () => Boolean(viewer.settings?.view);
    for (const panel of viewer.panels) {
        const port = panel.port;
        port.addEventListener("wheel", (event) => {
            if (!viewShown()) return;
            event.preventDefault();
            const box = port.getBoundingClientRect();
            zoomAt(viewer, event.clientX - box.left, event.clientY - box.top,
                   Math.exp(-event.deltaY * ZOOM_PER_WHEEL_PIXEL));
        }, { passive: false });
        port.addEventListener("pointerdown", (event) => {
            if (event.button !== 0 || !viewShown()) return;
            port.setPointerCapture(event.pointerId);
            drag = { x: event.clientX, y: event.clientY };
        });
        port.addEventListener("pointermove", (event) => {
            if (!viewShown()) return;
            if (drag) {
                const { view } = viewer.settings;
                view.tx += event.clientX - drag.x;
                view.ty += event.clientY - drag.y;
                view.fitted = false;
                drag = { x: event.clientX, y: event.clientY };
                applyView(viewer);
            }
            showValues(viewer, port, event);
        });
        const release = () => { drag = null; };
        port.addEventListener("pointerup", release);
        port.addEventListener("pointercancel", release);
        port.addEventListener("pointerleave", () => { viewer.readout.textContent = "\u00a0"; });
        port.addEventListener("dblclick", () => { if (viewShown()) fitView(viewer); });
    }
    viewer.fit.addEventListener("click", () => { if (viewShown()) fitView(viewer); });
    viewer.all.addEventListener("click", () => switchAll(viewer));
    viewer.opacity.input.addEventListener("input", () => {
        viewer.settings.opacity = Number(viewer.opacity.input.value);
        drawLayers(viewer);
    });
    viewer.threshold.input.addEventListener("input", () => {
        viewer.settings.threshold = Number(viewer.threshold.input.value);
        colourThresholded(viewer);
        drawLayers(viewer);
    });
    const onKey = (event) => {
        if (event.repeat || event.ctrlKey || event.metaKey || event.altKey || typing(event) || !viewShown()) return;
        const key = event.key.toLowerCase();
        if (key === viewer.data.keys.fit) fitView(viewer);
        else if (key === viewer.data.keys.layers) switchAll(viewer);
        else return;
        event.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    // A view still at fit follows the page's width; a zoomed one stays where the reader put it.
    const onResize = new ResizeObserver(() => {
        const view = viewer.settings?.view;
        if (view?.fitted) fitView(viewer);
        else if (view) applyView(viewer);
    });
    onResize.observe(viewer.plain.port);
    return () => {
        document.removeEventListener("keydown", onKey);
        onResize.disconnect();
    };
}

function switchAll(viewer) {
    const on = !Object.values(viewer.settings.on).every(Boolean); // all on, unless they all are already
    for (const id of Object.keys(viewer.settings.on)) viewer.settings.on[id] = on;
    drawLayers(viewer);
}

// A layer's codes (review/viewer.py layer_codes): `nothing`, or first..last for its values from low to high.
function share(codes, code) {
    return (code - codes.first) / (codes.last - codes.first);
}

function valueOf(viewer, layer, code) {
    return layer.low + share(viewer.data.codes, code) * (layer.high - layer.low);
}

function colourLayer(viewer, held) {
    const { layer, codes, canvas } = held;
    const { nothing } = viewer.data.codes;
    const context = canvas.getContext("2d");
    const picture = context.createImageData(canvas.width, canvas.height);
    const pixels = picture.data;
    const below = layer.thresholded ? viewer.settings.threshold : -Infinity;
    const last = layer.lut.length - 1;
    for (let i = 0; i < codes.length; i++) {
        const code = codes[i];
        if (code === nothing || valueOf(viewer, layer, code) < below) continue;
        // As matplotlib picks a colour for a value: the floor of its share of the table, the top one at the end.
        const colour = layer.lut[Math.min(last, Math.floor(share(viewer.data.codes, code) * layer.lut.length))];
        pixels[4 * i] = colour[0];
        pixels[4 * i + 1] = colour[1];
        pixels[4 * i + 2] = colour[2];
        pixels[4 * i + 3] = 255;
    }
    context.putImageData(picture, 0, 0);
}

function colourThresholded(viewer) {
    for (const held of viewer.layers.values()) if (held.layer.thresholded) colourLayer(viewer, held);
}

function drawLayers(viewer) {
    const { settings } = viewer;
    viewer.opacity.input.value = settings.opacity;
    viewer.opacity.value.textContent = settings.opacity.toFixed(2);
    viewer.threshold.input.value = settings.threshold;
    viewer.threshold.value.textContent = settings.threshold.toFixed(2);
    for (const [id, held] of viewer.layers) {
        held.canvas.style.opacity = settings.opacity;
        held.canvas.hidden = !settings.on[id];
        held.toggle.checked = settings.on[id];
    }
    viewer.root.dataset.layersOn = Object.keys(settings.on).filter((id) => settings.on[id]).join(",");
}

function showValues(viewer, port, event) {
    const { view } = viewer.settings;
    const { width, height, grid } = viewer.data;
    const box = port.getBoundingClientRect();
    const x = (event.clientX - box.left - view.tx) / view.s;
    const y = (event.clientY - box.top - view.ty) / view.s;
    if (x < 0 || y < 0 || x >= width || y >= height) {
        viewer.readout.textContent = "\u00a0";
        return;
    }
    const cell = Math.floor((y / height) * grid) * grid + Math.floor((x / width) * grid);
    const parts = [];
    for (const { layer, codes } of viewer.layers.values()) {
        if (!viewer.settings.on[layer.id]) continue;
        if (codes[cell] === viewer.data.codes.nothing) {
            parts.push(`${layer.readout}: not drawn here`);
            continue;
        }
        const value = valueOf(viewer, layer, codes[cell]);
        const shown = (layer.signed && value >= 0 ? "+" : "") + value.toFixed(2);
        const below = layer.thresholded && value < viewer.settings.threshold ? " (below the threshold)" : "";
        parts.push(`${layer.readout}: ${shown}${below}`);
    }
    if (!parts.length) parts.push("Switch a layer on to read its value under the pointer.");
    viewer.readout.textContent = parts.join(" · ");
}

function colourBar(layer) {
    const bar = element("div", "xv-bar");
    const last = layer.lut.length - 1;
    const stops = [0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1].map(
        (at) => `rgb(${layer.lut[Math.round(at * last)].join(",")}) ${(100 * at).toFixed(1)}%`);
    const ramp = element("div", "xv-ramp");
    ramp.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
    const ticks = element("div", "xv-ticks");
    for (const tick of layer.ticks) ticks.append(element("span", "", tick));
    bar.append(ramp, ticks, element("div", "xv-bar-title", layer.title));
    return bar;
}

// The layers as sent: raw codes (base64), so no browser's canvas noise can touch them; all built before any is shown.
function buildLayers(viewer, data) {
    const layers = new Map();
    const entries = data.layers.map((layer) => {
        const canvas = element("canvas", "xv-layer");
        canvas.width = data.grid;
        canvas.height = data.grid;
        canvas.hidden = true;
        canvas.dataset.layer = layer.id;
        canvas.classList.toggle("xv-blocky", !layer.smooth);
        const codes = Uint8Array.from(atob(layer.codes), (character) => character.charCodeAt(0));
        const entry = element("div", "xv-entry");
        const label = element("label", "xv-toggle");
        const toggle = element("input");
        toggle.type = "checkbox";
        toggle.dataset.layer = layer.id;
        toggle.addEventListener("change", () => {
            viewer.settings.on[layer.id] = toggle.checked;
            drawLayers(viewer);
        });
        label.append(toggle, element("span", "", layer.name));
        entry.append(label, colourBar(layer));
        const held = { layer, codes, canvas, toggle };
        layers.set(layer.id, held);
        colourLayer(viewer, held);
        return entry;
    });
    for (const held of viewer.layers.values()) held.canvas.remove();
    viewer.explained.stage.append(...[...layers.values()].map((held) => held.canvas));
    viewer.legend.replaceChildren(...entries);
    viewer.layers = layers;
}

// The X-ray in the window asked for last; an older one that decodes later is never shown over it.
function loadImage(viewer, uri) {
    if (viewer.imageWanted === uri) return viewer.imageLoad;
    viewer.imageWanted = uri;
    const image = new Image();
    image.src = uri;
    viewer.imageLoad = image.decode().then(() => {
        if (viewer.imageWanted !== uri) return;
        for (const panel of viewer.panels) panel.xray.src = uri;
    });
    return viewer.imageLoad;
}

const VIEWERS = new WeakMap(); // per mount point: the viewer built there

export default function render({ data, parentElement }) {
    let viewer = VIEWERS.get(parentElement);
    if (!viewer) {
        viewer = build(parentElement);
        VIEWERS.set(parentElement, viewer);
        const stopListening = listen(viewer);
        viewer.cleanup = () => {
            stopListening();
            viewer.root.remove();
            VIEWERS.delete(parentElement);
        };
    }
    viewer.data = data;
    viewer.settings = settingsFor(data);
    viewer.root.dataset.ready = "";
    viewer.plain.title.textContent = data.titles[0];
    viewer.explained.title.textContent = data.titles[1];
    viewer.fit.textContent = `Fit (${data.keys.fit.toUpperCase()})`;
    viewer.all.textContent = `All layers (${data.keys.layers.toUpperCase()})`;
    viewer.help.textContent = data.help;
    for (const panel of viewer.panels) {
        panel.port.style.aspectRatio = `${data.width} / ${data.height}`;
        panel.stage.style.width = `${data.width}px`;
        panel.stage.style.height = `${data.height}px`;
    }
    const layersSent = JSON.stringify(data.layers);
    if (viewer.layersSent !== layersSent) {
        buildLayers(viewer, data);
        viewer.layersSent = layersSent;
    }
    drawLayers(viewer);
    loadImage(viewer, data.image).then(() => {
        if (viewer.data !== data) return; // a newer render took over
        if (viewer.settings.view) applyView(viewer);
        else fitView(viewer);
        viewer.root.dataset.ready = data.id;
    }).catch((error) => {
        viewer.readout.textContent = "This browser could not draw the X-ray; reload the page to try again.";
        console.error("X-ray viewer:", error);
    });
    return viewer.cleanup; // Streamlit keeps the last one returned and calls it when the viewer leaves the page
}
