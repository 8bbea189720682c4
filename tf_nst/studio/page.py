"""The studio's page: Gradio Blocks laid out, and wired to `actions` and the `Runner`.

Content (upload or a bundled sample) and the mask editor, one layer per style slot; styles
(bundled paintings or uploads) with blend weights; the live preview, loss curve and ETA with
Instant, Refine and Stop; the basic settings in words, the rest under Advanced by group; the
session's results with captions, the download and the replay.
Optimizations share one queue slot (`OPTIMIZATION_QUEUE`): one runs at a time, a waiting one shows
the runs ahead of it and Stop cancels it before it starts; Stop and a closed tab stop only their
own session's runs. A preview frame is a file in the session's folder, the newest few kept.
"""

import json
import logging

from tf_nst.errors import NSTError
from tf_nst.studio import actions, form
from tf_nst.studio.actions import MAX_STYLES
from tf_nst.studio.files import BUNDLED_CONTENTS, BUNDLED_STYLES, EDITOR_SIDE, PAINT_OPACITY, bundled

OPTIMIZATION_QUEUE = "optimization"
READY = "Ready: one optimization runs at a time on this machine; a waiting run shows its place in the queue."
INTRO = ("# tf-nst studio\nPick a photo and one or more paintings, paint where each style goes (white on a "
         "style's layer: that style; grey: half of it; unpainted: the photo kept; nothing painted: every style "
         "everywhere), run, watch it paint, stop when you like it. "
         "Every result keeps its settings and painted regions: download the PNG, or drop one here to start again "
         "from it.")
PAGE_CSS = """
#preview img { width: 100%; height: 100%; object-fit: contain; }
#content-samples .grid-wrap, #style-paintings .grid-wrap { overflow: hidden; padding-top: 34px; }
#content-samples .grid-container { grid-template-columns: repeat(4, minmax(0, 1fr)); grid-template-rows: none;
  grid-auto-rows: auto; }
#content-samples .thumbnail-item { height: auto; }
#results .grid-wrap { padding-top: 34px; }
#results .grid-container { grid-template-columns: repeat(3, minmax(0, 1fr)); grid-template-rows: none;
  grid-auto-rows: auto; }
#results .thumbnail-item { aspect-ratio: auto; height: auto; display: flex; flex-direction: column; }
#results .thumbnail-item > img { height: 100px; object-fit: contain; }
#results .caption-label { position: static; max-width: none; white-space: normal; opacity: 1; border: 0;
  border-radius: 0; font-size: 12px; line-height: 1.3; }
#stop { flex-grow: 0; min-width: 90px; }
#mask-editor .pixi-target { left: 48px; width: calc(100% - 48px); }
"""
# Small runs shown large. Thumbnails below their gallery's label; the four samples within its width. Results
# whole, three a row, each caption under its picture (Gradio lays captions over a corner of the picture, here
# cut off by the gallery's height). A small Stop. The editor's picture right of its tool column (Gradio floats
# the brush/eraser column over the canvas: a stroke begun under it pressed a button and was lost).
# White: the style; grey: half of it; black: none (to take paint back). Translucent: the photo shows.
BRUSH_COLORS = [(colour, PAINT_OPACITY) for colour in ("#ffffff", "#808080", "#000000")]
LAYER_NAMES = [f"Style {slot + 1}" for slot in range(MAX_STYLES)]
# Gradio's editor names every layer it loads from a file "Layer 1" (a replay's painted layers): the page
# names them as it named the empty ones, after each load (the editor's change) and on a slow timer.
PAGE_JS = """
() => {
  const names = LAYER_NAMES;
  const rename = (editor) => {
    const manager = editor.layer_manager;
    if (!manager || !manager.layers) return;
    let renamed = false;
    manager.layers.forEach((layer, index) => {
      if (index < names.length && layer.name !== names[index]) { layer.name = names[index]; renamed = true; }
    });
    if (renamed) manager.layer_store.update((state) => ({...state, layers: manager.layers}));
  };
  setInterval(() => {
    const editor = window.editor;
    if (!editor || !editor.layer_manager) return;
    if (!editor.tfNstNaming) {
      editor.tfNstNaming = true;
      editor.on("change", () => rename(editor));
    }
    rename(editor);
  }, 500);
}
""".replace("LAYER_NAMES", json.dumps(LAYER_NAMES))


def build_page(files, runner, instant=None, backbones=None):
    """The studio as a `gr.Blocks` (not launched).

    Args:
        files: the `StudioFiles` (temporary folder and upload caps).
        runner: the `Runner` every session shares.
        instant: an optional instant preview, `fn(content_path, style_paths, settings, mask_paths) ->
            uint8 (H, W, 3)` (`tf_nst.studio.instant.arbitrary_instant`): an "Instant" button shows its image
            at once, and the next run starts from it ("Refine", recorded as `model:arbitrary`).
        backbones: `form.backbone_choices()` of this machine, or None (the schema's choices, no note).
    """
    import gradio as gr

    with gr.Blocks(title="tf-nst studio") as page:
        ui = _layout(gr, instant is not None, backbones)
        _wire_inputs(gr, page, ui, files, runner)
        _wire_run(gr, ui, files, runner, instant)
        _wire_keep(gr, ui, files)
        if instant is not None:
            _wire_instant(gr, ui, files, instant)
    return page


class _Page:
    """The page's components by name."""


def _editor(gr, value=None, default_size=None, visible=True):
    """The mask editor (one layer per style slot), or its update with a value and a brush for that photo."""
    brush = gr.Brush(colors=BRUSH_COLORS, color_mode="fixed", **({"default_size": default_size}
                                                                  if default_size else {}))
    return gr.ImageEditor(
        value=value, label="Regions: paint on a style's layer", type="filepath", image_mode="RGBA", sources=[],
        transforms=[], format="png", elem_id="mask-editor", height=420, visible=visible,
        canvas_size=(EDITOR_SIDE, EDITOR_SIDE),
        layers=gr.LayerOptions(allow_additional_layers=False, layers=LAYER_NAMES), brush=brush)


def _layout(gr, with_instant, backbones):
    ui = _Page()
    ui.state = gr.State()
    gr.Markdown(INTRO)
    if backbones and backbones[2]:
        gr.Markdown(f"Note: {backbones[2]}", elem_id="backbone-note")
    ui.message = gr.Markdown(elem_id="studio-message")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            ui.content = gr.File(label="Content photo", file_types=["image"], elem_id="content-upload", height=120)
            ui.samples = gr.Gallery(bundled(BUNDLED_CONTENTS), label="Or a bundled image", columns=4, rows=1,
                                    height=150, object_fit="contain", allow_preview=False,
                                    elem_id="content-samples")
            ui.editor_hint = gr.Markdown("*Choose a photo above: its regions are painted here.*",
                                         elem_id="editor-hint")
            ui.editor = _editor(gr, visible=False)
        with gr.Column(scale=4):
            ui.paintings = gr.Gallery(bundled(BUNDLED_STYLES), label="Bundled paintings: click to add",
                                      columns=3, rows=1, height=150, object_fit="contain", allow_preview=False,
                                      elem_id="style-paintings")
            ui.slots, ui.weights = [], []
            for slot in range(MAX_STYLES):
                with gr.Group():
                    ui.slots.append(gr.File(label=f"Style {slot + 1}", file_types=["image"], height=135,
                                            elem_id=f"style-upload-{slot}"))
                    ui.weights.append(gr.Slider(0.0, 1.0, value=1.0, step=0.05, label=f"Style {slot + 1}: blend weight",
                                                elem_id=f"style-weight-{slot}"))
        with gr.Column(scale=5):
            ui.preview = gr.Image(label="Live", interactive=False, type="filepath", elem_id="preview", height=320)
            ui.status = gr.Markdown(elem_id="run-status")
            ui.curve = gr.LinePlot(x="evaluation", y="loss", label="Loss", height=160, elem_id="loss-curve")
            with gr.Row():
                ui.instant = gr.Button("Instant", visible=with_instant, elem_id="instant")
                ui.run = gr.Button("Refine" if with_instant else "Stylize", variant="primary", elem_id="run")
                ui.stop = gr.Button("Stop", variant="secondary", size="sm", elem_id="stop")
    ui.controls = form.build_controls(gr, backbones)
    with gr.Row(equal_height=False):
        ui.results = gr.Gallery(label="This session's results", columns=3, height=240, object_fit="contain",
                                elem_id="results")
        with gr.Column():
            ui.download = gr.File(label="Download the PNG (settings and painted regions inside)",
                                  elem_id="download")
            ui.replay = gr.File(label="Drop a tf-nst PNG: its inputs, regions and settings come back",
                                file_types=[".png"], elem_id="replay-upload", height=120)
        ui.settings = gr.JSON(label="Settings of the result", elem_id="result-settings", max_height=260)
    return ui


def _editor_update(gr, editor):
    """The editor shown with `editor` (paths), its brush a 25th of the photo's shorter side."""
    from PIL import Image

    with Image.open(editor["background"]) as image:
        side = min(image.size)
    return _editor(gr, value=editor, default_size=max(2, side // 25))


def _wire_inputs(gr, page, ui, files, runner):
    def start(request: gr.Request):
        return actions.new_state(request.session_hash), READY

    def close(request: gr.Request):
        runner.stop(request.session_hash)  # a closed tab stops its run, and cancels its waiting ones
        files.forget_session(request.session_hash)

    def content_chosen(path, state, request: gr.Request):
        state = state or actions.new_state(request.session_hash)  # before the page's load event
        editor, text = actions.load_content(files, state, path)
        skip = gr.skip()
        if not path:
            return skip, gr.update(value=None, visible=False), skip, gr.update(visible=True), state
        if editor is None:  # refused: the message says why, and the upload box is free again
            return None, gr.update(value=None, visible=False), text, gr.update(visible=True), state
        if editor is False:  # a replay set the editor and the message: keep both
            return skip, skip, skip, skip, state
        return skip, _editor_update(gr, editor), text, gr.update(visible=False), state

    def sample_chosen(event: gr.SelectData):
        return actions.sample_path(BUNDLED_CONTENTS, event.index)

    def painting_chosen(event: gr.SelectData, *slots):
        return actions.add_style(event.index, slots)

    def style_chosen(path, state):
        if state and path:
            files.track(state["session"], path)

    page.load(start, None, [ui.state, ui.status])
    page.unload(close)
    ui.content.change(content_chosen, [ui.content, ui.state],
                      [ui.content, ui.editor, ui.message, ui.editor_hint, ui.state])
    ui.samples.select(sample_chosen, None, ui.content)
    ui.paintings.select(painting_chosen, ui.slots, ui.slots)
    for slot in ui.slots:
        slot.upload(style_chosen, [slot, ui.state], None, queue=False)


def _wire_run(gr, ui, files, runner, instant):
    import pandas

    controls = [ui.controls[name] for name in form.field_names()]

    def curve(losses):
        return pandas.DataFrame({"evaluation": list(range(1, len(losses) + 1)), "loss": list(losses)})

    def queued(state):
        """Run pressed: a ticket in the queue (Stop cancels it) and the runs ahead of it."""
        if not state:
            return gr.skip()
        return actions.waiting_text(runner.wait(state["session"]))

    def run(state, content, editor, *rest):
        slots, weights, values = rest[:MAX_STYLES], rest[MAX_STYLES:2 * MAX_STYLES], rest[2 * MAX_STYLES:]
        skip = gr.skip()
        if not state:  # the page has not finished loading its session
            yield skip, skip, "", actions.message("the page is still loading: try again in a moment"), skip, \
                skip, skip, state
            return
        if not runner.admit(state["session"]):  # Stop pressed while it waited
            yield skip, skip, "Stopped before it started", "", skip, skip, skip, state
            return
        try:
            yield from admitted(state, content, editor, slots, weights, values)
        finally:
            runner.release()

    def admitted(state, content, editor, slots, weights, values):
        skip = gr.skip()
        try:
            job = actions.make_job(files, state, content, editor, slots, weights, values)
            job = actions.refine_start(state, job, instant)
        except NSTError as error:
            yield skip, skip, "", actions.message(error, files=files), skip, skip, skip, state
            return
        yield skip, curve([]), "Starting (the first run of new settings builds the model)", "", skip, skip, \
            skip, state
        losses = []
        for update in runner.updates(job, state["session"]):
            losses.extend(update.losses)
            frame = files.write_preview(state["session"], update.image) if update.image is not None else skip
            if update.final and update.error:
                yield skip, skip, "Failed", actions.message(update.error, files=files), skip, skip, skip, state
            elif update.final:
                items, settings = actions.keep_result(state, update)
                yield frame, curve(losses), actions.status_text(update, losses), actions.message(
                    notes=update.notes, files=files), items, update.output, settings, state
            else:
                yield frame, curve(losses), actions.status_text(update, losses), skip, skip, skip, skip, skip

    def stop(state):
        if state:
            runner.stop(state["session"])

    ui.run.click(queued, [ui.state], [ui.status], queue=False, show_progress="hidden").then(
        run, [ui.state, ui.content, ui.editor, *ui.slots, *ui.weights, *controls],
        [ui.preview, ui.curve, ui.status, ui.message, ui.results, ui.download, ui.settings, ui.state],
        concurrency_limit=1, concurrency_id=OPTIMIZATION_QUEUE, show_progress="hidden")
    ui.stop.click(stop, [ui.state], None, queue=False)


def _wire_keep(gr, ui, files):
    controls = [ui.controls[name] for name in form.field_names()]

    def result_chosen(event: gr.SelectData, state):
        result = state["results"][event.index]
        return result["path"], result["settings"]

    def replayed(path, state, request: gr.Request):
        state = state or actions.new_state(request.session_hash)  # before the page's load event
        skip = gr.skip()
        if not path:
            return [skip] * (3 + 2 * MAX_STYLES + len(controls)) + ["", state]
        try:
            restored = actions.replay(files, state, path)
        except NSTError as error:
            return [skip] * (3 + 2 * MAX_STYLES + len(controls)) + [actions.message(error, files=files), state]
        editor, hint = skip, skip
        if restored["editor"] is not False:
            editor, hint = _editor_update(gr, restored["editor"]), gr.update(visible=False)
        values = [restored["values"][name] for name in form.field_names()]
        return [restored["content"], editor, hint, *restored["slots"], *restored["weights"], *values,
                restored["message"], state]

    ui.results.select(result_chosen, [ui.state], [ui.download, ui.settings])
    ui.replay.upload(replayed, [ui.replay, ui.state],
                     [ui.content, ui.editor, ui.editor_hint, *ui.slots, *ui.weights, *controls, ui.message,
                      ui.state])


def _wire_instant(gr, ui, files, instant):
    controls = [ui.controls[name] for name in form.field_names()]

    def preview(state, content, editor, *rest):
        slots, weights, values = rest[:MAX_STYLES], rest[MAX_STYLES:2 * MAX_STYLES], rest[2 * MAX_STYLES:]
        try:
            job = actions.make_job(files, state, content, editor, slots, weights, values)
            image = actions.show_instant(state, job, instant)
        except NSTError as error:
            return gr.skip(), actions.message(error, files=files), state
        except Exception as error:  # the server goes on: the page says what happened
            logging.getLogger(__name__).exception("studio: Instant failed")
            return gr.skip(), actions.message(f"Instant failed ({type(error).__name__})", files=files), state
        return files.write_preview(state["session"], image), "", state

    ui.instant.click(preview, [ui.state, ui.content, ui.editor, *ui.slots, *ui.weights, *controls],
                     [ui.preview, ui.message, ui.state], concurrency_limit=1, concurrency_id=OPTIMIZATION_QUEUE)
