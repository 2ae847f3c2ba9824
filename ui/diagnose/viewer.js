// The reading-room viewer (a Streamlit v2 component; ui/diagnose/viewer.py mounts it, review/viewer.py builds its data).
// Everything a reader does to the view happens here, without the server: zoom (wheel), pan (drag), fit
// (double-click, the Fit button or its key), each layer on or off, all layers (their key), the layers' opacity and
// Grad-CAM's threshold. Both panels share one view. Text from the server is set as text, never as markup.

const ZOOM_PER_WHEEL_PIXEL = 0.0015;
const MAX_PIXEL_SCALE = 40; // at most 40 screen pixels per image pixel
const VIEWS = new Map(); // per image (data.id): the view and the reader's layer settings, kept across redraws

function element(tag, className, text) {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined) made.textContent = text;
    return made;
}

function decoded(uri) {
    const image = new Image();
    image.src = uri;
    return image.decode().then(() => image);
}

function settingsFor(data) {
    if (!VIEWS.has(data.id)) {
        VIEWS.set(data.id, {
            view: null,
            on: Object.fromEntries(data.layers.map((layer) => [layer.id, false])),
            opacity: data.opacity,
            threshold: data.threshold,
        });
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
    const buttons = element("div", "xv-buttons");
    const fit = element("button", "xv-button");
    const all = element("button", "xv-button");
    buttons.append(fit, all);
    controls.append(legend, sliders, buttons);
    const help = element("p", "xv-help");
    root.append(panels, readout, controls, help);
    parent.append(root);
    return { root, panels: [plain, explained], plain, explained, readout, legend, opacity, threshold, fit, all, help,
             layers: new Map(), data: null, settings: null };
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
function fitted(viewer) {
    const { width, height } = viewer.data;
    const port = viewer.plain.port.getBoundingClientRect();
    const scale = Math.min(port.width / width, port.height / height);
    return { s: scale, tx: (port.width - scale * width) / 2, ty: (port.height - scale * height) / 2, fit: scale,
             fitted: true };
}

function applyView(viewer) {
    const view = viewer.settings.view;
    for (const panel of viewer.panels) {
        panel.stage.style.transform = `translate(${view.tx}px, ${view.ty}px) scale(${view.s})`;
    }
    const port = viewer.plain.port.getBoundingClientRect();
    const corner = (px, py) => [(px - view.tx) / view.s, (py - view.ty) / view.s];
    const [x0, y0] = corner(0, 0);
    const [x1, y1] = corner(port.width, port.height);
    viewer.root.dataset.view = [x0, x1, y0, y1].map((v) => v.toFixed(1)).join(",");
}

function fitView(viewer) {
    viewer.settings.view = fitted(viewer);
    applyView(viewer);
}

function zoomAt(viewer, px, py, factor) {
    const view = viewer.settings.view;
    const scale = Math.min(Math.max(view.s * factor, view.fit * 0.5), MAX_PIXEL_SCALE);
    const applied = scale / view.s;
    view.tx = px - (px - view.tx) * applied;
    view.ty = py - (py - view.ty) * applied;
    view.s = scale;
    view.fitted = false;
    applyView(viewer);
}

function typing(event) {
    const target = event.composedPath()[0];
    return target instanceof HTMLElement
        && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function listen(viewer) {
    let drag = null;
    for (const panel of viewer.panels) {
        const port = panel.port;
        port.addEventListener("wheel", (event) => {
            event.preventDefault();
            const box = port.getBoundingClientRect();
            zoomAt(viewer, event.clientX - box.left, event.clientY - box.top,
                   Math.exp(-event.deltaY * ZOOM_PER_WHEEL_PIXEL));
        }, { passive: false });
        port.addEventListener("pointerdown", (event) => {
            if (event.button !== 0) return;
            port.setPointerCapture(event.pointerId);
            drag = { x: event.clientX, y: event.clientY };
        });
        port.addEventListener("pointermove", (event) => {
            if (drag) {
                const view = viewer.settings.view;
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
        port.addEventListener("dblclick", () => fitView(viewer));
    }
    viewer.fit.addEventListener("click", () => fitView(viewer));
    viewer.all.addEventListener("click", () => switchAll(viewer));
    viewer.opacity.input.addEventListener("input", () => {
        viewer.settings.opacity = Number(viewer.opacity.input.value);
        drawLayers(viewer);
    });
    viewer.threshold.input.addEventListener("input", () => {
        viewer.settings.threshold = Number(viewer.threshold.input.value);
        drawLayers(viewer);
    });
    const onKey = (event) => {
        if (event.repeat || event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
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

// Layer values: code 0 is "nothing here"; codes 1..255 span low..high (review/viewer.py encodes them).
function valueOf(layer, code) {
    return layer.low + ((code - 1) / 254) * (layer.high - layer.low);
}

function colourLayer(viewer, id) {
    const held = viewer.layers.get(id);
    const { layer, codes, canvas } = held;
    const context = canvas.getContext("2d");
    const picture = context.createImageData(canvas.width, canvas.height);
    const below = layer.thresholded ? viewer.settings.threshold : -Infinity;
    for (let i = 0; i < codes.length; i++) {
        const code = codes[i];
        if (code === 0 || valueOf(layer, code) < below) continue;
        const colour = layer.lut[Math.round(((code - 1) / 254) * 255)];
        picture.data.set([colour[0], colour[1], colour[2], 255], 4 * i);
    }
    context.putImageData(picture, 0, 0);
}

function drawLayers(viewer) {
    const { settings } = viewer;
    viewer.opacity.input.value = settings.opacity;
    viewer.opacity.value.textContent = settings.opacity.toFixed(2);
    viewer.threshold.input.value = settings.threshold;
    viewer.threshold.value.textContent = settings.threshold.toFixed(2);
    for (const [id, held] of viewer.layers) {
        if (held.layer.thresholded) colourLayer(viewer, id);
        held.canvas.style.opacity = settings.on[id] ? settings.opacity : 0;
        held.canvas.hidden = !settings.on[id];
        held.toggle.checked = settings.on[id];
    }
    viewer.root.dataset.layersOn = Object.keys(settings.on).filter((id) => settings.on[id]).join(",");
}

function showValues(viewer, port, event) {
    const view = viewer.settings.view;
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
        if (codes[cell] === 0) {
            parts.push(`${layer.readout}: not drawn here`);
            continue;
        }
        const value = valueOf(layer, codes[cell]);
        const shown = (layer.signed && value >= 0 ? "+" : "") + value.toFixed(2);
        const below = layer.thresholded && value < viewer.settings.threshold ? " (below the threshold)" : "";
        parts.push(`${layer.readout}: ${shown}${below}`);
    }
    if (!parts.length) parts.push("Switch a layer on to read its value under the pointer.");
    viewer.readout.textContent = parts.join(" · ");
}

function colourBar(layer) {
    const bar = element("div", "xv-bar");
    const stops = [0, 32, 64, 96, 128, 160, 192, 224, 255].map(
        (i) => `rgb(${layer.lut[i].join(",")}) ${((100 * i) / 255).toFixed(1)}%`);
    const ramp = element("div", "xv-ramp");
    ramp.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
    const ticks = element("div", "xv-ticks");
    for (const tick of layer.ticks) ticks.append(element("span", "", tick));
    bar.append(ramp, ticks, element("div", "xv-bar-title", layer.title));
    return bar;
}

async function loadLayers(viewer, data) {
    viewer.legend.replaceChildren();
    for (const held of viewer.layers.values()) held.canvas.remove();
    viewer.layers.clear();
    const images = await Promise.all(data.layers.map((layer) => decoded(layer.codes)));
    data.layers.forEach((layer, index) => {
        const canvas = element("canvas", "xv-layer");
        canvas.width = data.grid;
        canvas.height = data.grid;
        canvas.dataset.layer = layer.id;
        canvas.classList.toggle("xv-blocky", !layer.smooth);
        const reader = element("canvas").getContext("2d", { willReadFrequently: true });
        reader.canvas.width = data.grid;
        reader.canvas.height = data.grid;
        reader.drawImage(images[index], 0, 0);
        const rgba = reader.getImageData(0, 0, data.grid, data.grid).data;
        const codes = new Uint8Array(data.grid * data.grid);
        for (let i = 0; i < codes.length; i++) codes[i] = rgba[4 * i];
        viewer.explained.stage.append(canvas);
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
        viewer.legend.append(entry);
        viewer.layers.set(layer.id, { layer, codes, canvas, toggle });
        if (!layer.thresholded) colourLayer(viewer, layer.id);
    });
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
            VIEWERS.delete(parentElement);
        };
    }
    const previous = viewer.data;
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
    const sameImage = previous && previous.image === data.image;
    const sameLayers = previous && JSON.stringify(previous.layers) === JSON.stringify(data.layers);
    const work = [];
    if (!sameImage) {
        work.push(decoded(data.image).then(() => {
            for (const panel of viewer.panels) panel.xray.src = data.image;
        }));
    }
    if (!sameLayers) work.push(loadLayers(viewer, data));
    Promise.all(work).then(() => {
        if (viewer.data !== data) return; // a newer render took over
        if (!viewer.settings.view) viewer.settings.view = fitted(viewer);
        applyView(viewer);
        drawLayers(viewer);
        viewer.root.dataset.ready = data.id;
    });
    return viewer.cleanup; // Streamlit keeps the last one returned and calls it when the viewer leaves the page
}
