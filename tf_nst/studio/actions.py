"""What the studio's buttons do: inputs checked into a `Job`, a run streamed, results kept, a PNG replayed.

Every handler takes the session's state (a `gr.State` dict: its id, its files by SHA-256, its
results, its Instant image) and returns page values; nothing one session holds reaches another. A
bad input raises an `NSTError` inside and becomes a message on the page, in words a person reads
(`StudioFiles.public_text`: no server path, no command-line option): the server goes on.
"""

import io
import os

import numpy as np
from PIL import Image

from tf_nst.errors import ImageError, InvalidArgumentError, NSTError
from tf_nst.io.provenance import embedded_files, file_sha256, read_provenance
from tf_nst.studio import form
from tf_nst.studio.files import BUNDLED_STYLES, bundled, display_name, painted_masks
from tf_nst.studio.instant import INSTANT_INIT
from tf_nst.studio.runner import Job, stored_mask_paths

MAX_STYLES = 3  # style slots, and the mask editor's layers (one per slot)


def message(error=None, notes=(), files=None):
    """The page's message line: an error (the run did not start or failed) and notes (`files`: their words
    made public, `StudioFiles.public_text`)."""
    lines = [f"**Error:** {error}"] if error else []
    text = "\n\n".join(lines + [f"Note: {note}" for note in notes])
    return files.public_text(text) if files is not None else text


def new_state(session):
    return {"session": session, "files": {}, "results": [], "content": None, "instant": None}


def load_content(files, state, path):
    """`(editor value or None, message)` for a chosen content photo; the state remembers it."""
    if not path:
        state["content"] = None
        return None, ""
    files.track(state["session"], path)
    try:
        loaded, path = files.check_upload(path)
    except NSTError as error:
        state["content"] = None
        return None, message(error, files=files)
    sha256 = file_sha256(path)
    if state.get("content") == sha256:
        return False, None  # a replay has just set the editor, masks included, and its message: keep them
    state["files"][sha256] = path
    state["content"] = sha256
    state["instant"] = None
    return files.editor_value(state["session"], loaded), message(notes=loaded.notes, files=files)


def sample_path(names, index):
    """The bundled sample at `index` of a gallery of `names`."""
    return bundled(names)[index]


def add_style(index, slots):
    """Slots with the bundled painting `index` in the first empty one (else the last)."""
    slots = list(slots)
    free = next((position for position, slot in enumerate(slots) if not slot), len(slots) - 1)
    slots[free] = bundled(BUNDLED_STYLES)[index]
    return slots


def make_job(files, state, content, editor, slots, weights, values):
    """Check every input of a run and write its masks: the `Job`, or an `NSTError` saying what is wrong."""
    if not content:
        raise InvalidArgumentError("expected a content photo (upload one or pick a bundled sample). Received: none")
    files.track(state["session"], content, *slots, *((editor or {}).get("layers") or ()))
    loaded, content = files.check_upload(content)
    used = [position for position, slot in enumerate(slots) if slot]
    if not used:
        raise InvalidArgumentError("expected at least one style (upload one or click a bundled painting). "
                                   "Received: none")
    styles = [files.check_upload(slots[position])[1] for position in used]
    state["files"].update({file_sha256(path): path for path in [content] + styles})  # for a replay
    blend = [float(weights[position] or 0.0) for position in used] if len(used) > 1 else None
    settings = form.build_settings(dict(zip(form.field_names(), values)), blend=blend)
    masks = painted_masks((editor or {}).get("layers"), MAX_STYLES, loaded.rgb.shape)
    mask_paths = None
    if masks is not None:
        mask_paths = [files.write_png(state["session"], masks[position], "mask") for position in used]
        state["files"].update({file_sha256(path): path for path in mask_paths})
    number = len(state["results"]) + 1
    output = os.path.join(files.session_folder(state["session"]), f"stylized-{number:03d}.png")
    return Job(settings=settings, content=content, styles=styles, mask_paths=mask_paths, output=output)


def instant_key(job):
    """What an Instant image depends on: the inputs' bytes, the masks', the size, the blend and the precision."""
    paths = [job.content, *job.styles, *(job.mask_paths or ())]
    settings = job.settings
    return (tuple(file_sha256(path) for path in paths), len(job.styles), settings.size,
            tuple(settings.style_blend or ()), settings.precision)


def show_instant(state, job, instant):
    """The Instant image of `job`'s inputs (the arbitrary network's), kept for the next Refine."""
    image = instant(job.content, job.styles, job.settings, job.mask_paths)
    state["instant"] = {"key": instant_key(job), "image": image}
    return image


def refine_start(state, job, instant):
    """`job` starting from the Instant image after Instant was pressed (made again for the inputs now on the
    page when they changed since), recorded as `model:arbitrary`; `job` as it is otherwise."""
    if not state.get("instant") or instant is None:
        return job
    if state["instant"]["key"] != instant_key(job):
        show_instant(state, job, instant)
    job.init, job.init_kind = state["instant"]["image"], INSTANT_INIT
    return job


def keep_result(state, update):
    """Add a finished run to the session's results: `(gallery items, its settings)`."""
    settings = read_provenance(update.output)["settings"]
    start = " · from Instant" if settings.get("init") == INSTANT_INIT else ""
    caption = (f"#{len(state['results']) + 1} · {settings['size']} px · {update.done} evaluations · "
               f"{settings['backbone']}{start} · {update.status}")
    state["results"].append({"path": update.output, "caption": caption, "settings": settings})
    return gallery_items(state), settings


def gallery_items(state):
    return [(result["path"], result["caption"]) for result in state["results"]]


def status_text(update, losses=()):
    """`Evaluation 10 of 20 · loss 1.2e+04 · 3 s · about 3 s left` (`losses`: the run's so far)."""
    parts = [f"Evaluation {update.done} of {update.total}"]
    if losses:
        parts.append(f"loss {losses[-1]:.4g}")
    parts.append(f"{update.seconds:.0f} s")
    if update.final:
        parts.append(update.status or "failed")
    elif update.eta is not None:
        parts.append(f"about {update.eta:.0f} s left")
    else:
        parts.append("estimating the time left")
    return " · ".join(parts)


def waiting_text(ahead):
    """The status of a run that waits for the machine."""
    if not ahead:
        return "Starting"
    return f"Waiting: {ahead} run{'s' if ahead > 1 else ''} ahead of yours (one runs at a time on this machine)"


def replay(files, state, path):
    """What a dropped tf-nst PNG restores: `{"content", "editor", "slots", "weights", "values", "message"}`.

    Inputs are found by the SHA-256 provenance stores, among the bundled samples and this
    session's files; the ones not found are named, to be uploaded again.
    """
    files.track(state["session"], path)
    files.check_upload(path)  # the byte and pixel caps before its text is read
    try:
        stored, embedded = read_provenance(path), embedded_files(path)
    except ImageError as error:
        raise ImageError(display_name(path), error.problem) from None
    hashes, inputs = stored.get("inputs_sha256") or {}, stored.get("inputs") or []
    found = [files.find(state["files"], hashes.get(name)) for name in inputs]
    masks = [_stored_mask(files, state, embedded, hashes.get(name)) if name else None
             for name in stored_mask_paths(stored)]
    missing = [os.path.basename(name) for name, where in zip(inputs + stored_mask_paths(stored), found + masks)
               if name and where is None]
    content, styles = (found[0] if found else None), found[1:MAX_STYLES + 1]
    slots = styles + [None] * (MAX_STYLES - len(styles))
    blend = stored["settings"].get("style_blend") or [1.0] * len(styles)
    top = max(blend) if blend and max(blend) > 0 else 1.0
    weights = [weight / top for weight in blend][:MAX_STYLES] + [1.0] * (MAX_STYLES - min(len(blend), MAX_STYLES))
    notes = [f"not among this session's files, upload again: {', '.join(missing)}"] if missing else []
    return {"content": content, "editor": _replayed_editor(files, state, content, masks), "slots": slots,
            "weights": weights, "values": form.values_of(stored["settings"]),
            "message": message(notes=notes, files=files)}


def _stored_mask(files, state, embedded, sha256):
    """A painted mask of a replayed PNG: `uint8 (H, W)` from the PNG itself (or this session's file), or None."""
    data = embedded.get(sha256)
    if data is None:
        where = files.find(state["files"], sha256)
        data = open(where, "rb").read() if where else None
    if data is None:
        return None
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"))


def _replayed_editor(files, state, content, masks):
    """The editor with the content and the found masks as its layers (False: leave it as it is)."""
    if content is None:
        return False
    loaded, content = files.check_upload(content)
    empty = np.zeros(loaded.rgb.shape[:2], np.uint8)
    state["content"] = file_sha256(content)
    state["files"][state["content"]] = content
    state["instant"] = None
    return files.editor_value(state["session"], loaded, [empty if mask is None else mask for mask in masks])
