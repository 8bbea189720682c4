"""The studio driven in a real browser: Playwright with Debian's Chromium against `cli.py studio`.

The studio runs as a subprocess on 127.0.0.1 (a free port), stopped by its PID. Skipped, with the
reason, where Gradio, Playwright or /usr/bin/chromium is missing (pip install -r
requirements-studio.txt; apt-get install -y chromium).

`TF_NST_STUDIO_SCREENSHOT=docs/studio.png python -m pytest tests/test_studio.py -k screenshot` writes
README's screenshot of the page (bundled photo and paintings, two painted regions, a run).
"""

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

from conftest import BLOCKED_PROXY, PROXY_VARIABLES, ROOT, STYLE_PATH, gradient_image

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-proxy-server"]
MISSING = [name for name in ("gradio", "playwright") if importlib.util.find_spec(name) is None]
pytestmark = [
    pytest.mark.skipif(bool(MISSING), reason=f"the studio tests need {', '.join(MISSING)}: "
                       "pip install -r requirements-studio.txt"),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"the studio tests need Debian's Chromium at {CHROMIUM}: "
                       "apt-get install -y chromium"),
]
RUN_SECONDS = 150  # the first run imports TensorFlow and builds the backbone in the server


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """`(url, process)` of a studio started here; stopped by its PID at the end of the module."""
    folder = tmp_path_factory.mktemp("studio")
    port = free_port()
    (folder / "tmp").mkdir()
    env = {**os.environ, "KERAS_HOME": str(folder / "keras"), "TF_CPP_MIN_LOG_LEVEL": "2", "TMPDIR": str(folder / "tmp"),
           "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost",
           **{name: BLOCKED_PROXY for name in PROXY_VARIABLES}}
    log = open(folder / "studio.log", "w")
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "cli.py"), "studio", "--port", str(port)],
                               cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300  # Gradio and TensorFlow import slowly on a loaded 2-core machine
    while True:
        try:
            # No proxy: the suite's blocked proxies may be in this process's environment by now.
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=2).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the studio did not start:\n" + (folder / "studio.log").read_text())
            time.sleep(0.5)
    yield url, process, folder
    stop_studio(process)
    log.close()


def stop_studio(process):
    """SIGTERM, as a service manager stops it (SIGKILL after 30 s)."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A 96x64 content photo, a text file named .png, and a second content."""
    folder = tmp_path_factory.mktemp("studio_inputs")
    Image.fromarray(gradient_image(64, 96, seed=3)).save(folder / "photo.png")
    Image.fromarray(gradient_image(64, 80, seed=4)[:, ::-1]).save(folder / "other.png")
    (folder / "notes.png").write_text("this is not an image\n")
    return folder


def open_page(browser, url):
    """A new tab (of `browser`, or of a browser context) once its session is ready."""
    page = browser.new_page()
    page.set_viewport_size({"width": 1500, "height": 1300})
    page.goto(url)
    page.wait_for_function("() => /Ready/.test(document.querySelector('#run-status')?.innerText)", timeout=30_000)
    return page


def upload(page, element_id, path):
    page.locator(f"#{element_id} input[type=file]").set_input_files(str(path))


def page_with_inputs(browser, url, inputs, name="photo.png"):
    """A ready tab with the content `inputs/name` and The Starry Night in the first style slot."""
    page = open_page(browser, url)
    upload(page, "content-upload", inputs / name)
    upload(page, "style-upload-0", STYLE_PATH)
    wait_for_editor(page)
    return page


def set_run_settings(page, size=64, steps=20, precision=None):
    """64 px, 20 evaluations; the network as the page starts it: vgg16-hed, as no VGG19 weights are here."""
    page.locator("#setting-size input").fill(str(size))
    page.locator("#setting-num_steps input").fill(str(steps))
    assert page.locator("#setting-backbone input").input_value() == "vgg16-hed (ready)"
    if precision:
        page.get_by_text("Advanced", exact=True).click()
        page.locator("#setting-precision input").click()
        page.get_by_role("option", name=precision, exact=True).click()
        page.get_by_text("Advanced", exact=True).click()


def wait_for_editor(page):
    """Until the content is the editor's background (the upload was read and checked)."""
    page.wait_for_function(
        "() => { const c = document.querySelector('#mask-editor canvas'); return c && c.width > 0; }",
        timeout=30_000)
    page.wait_for_timeout(1500)


def picture_box(page):
    """The editor's picture (its layers' extent) in page coordinates: `{x, y, width, height}`."""
    return page.evaluate("""() => {
        const canvas = document.querySelector('#mask-editor .pixi-target canvas').getBoundingClientRect();
        const bounds = window.editor.layer_manager.layers[0].container.getBounds();
        return {x: canvas.x + bounds.x, y: canvas.y + bounds.y, width: bounds.width, height: bounds.height};
    }""")


def stroke(page, start, end, moves=6):
    """One brush stroke between two page points; the server requests made while it was drawn."""
    requests = []

    def listen(request):
        requests.append(request.url)

    page.on("request", listen)
    page.mouse.move(*start)
    page.mouse.down()
    for step in range(1, moves + 1):
        page.mouse.move(start[0] + (end[0] - start[0]) * step / moves, start[1] + (end[1] - start[1]) * step / moves)
    page.mouse.up()
    page.remove_listener("request", listen)
    return requests


def paint(page, left=0.30, right=0.45, top=0.5, bottom=0.5, strokes=1):
    """Horizontal strokes over a part of the editor's picture (fractions of its box) on the chosen layer."""
    page.locator("#mask-editor button[aria-label=Brush]").click()
    box = picture_box(page)
    for row in range(strokes):
        y = box["y"] + box["height"] * (top + (bottom - top) * row / max(1, strokes - 1))
        stroke(page, (box["x"] + box["width"] * left, y), (box["x"] + box["width"] * right, y))
    page.wait_for_timeout(1000)


def choose_layer(page, name):
    page.locator("#mask-editor button[aria-label='Show Layers']").click()
    page.locator("#mask-editor").get_by_text(name, exact=True).click()
    page.keyboard.press("Escape")


def watch_preview(page):
    """Count every new image the live preview shows (in the page, so no update is missed)."""
    page.evaluate("""() => {
        window.previews = new Set();
        const record = () => document.querySelectorAll('#preview img').forEach(img => img.src && window.previews.add(img.src));
        new MutationObserver(record).observe(document.querySelector('#preview'),
            {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
    }""")


def wait_for_status(page, words, timeout=RUN_SECONDS):
    """Until the run's status line says one of `words`; a message of the page (an error) ends it sooner."""
    pattern = "|".join(words)
    page.wait_for_function(f"() => /{pattern}/.test(document.querySelector('#run-status').innerText) || "
                           "/Error/.test(document.querySelector('#studio-message').innerText)", timeout=timeout * 1000)
    assert "Error" not in page.locator("#studio-message").inner_text(), page.locator("#studio-message").inner_text()


def download(page, folder, name):
    link = page.locator("#download a").first
    link.wait_for(timeout=30_000)
    with page.expect_download() as event:
        link.click()
    path = folder / name
    event.value.save_as(path)
    return path


def run_and_keep(page, folder, name):
    page.locator("#run").click()
    wait_for_status(page, ["done", "stopped"])
    return download(page, folder, name)


def test_paint_run_stop_download_provenance_replay(studio, browser, inputs, tmp_path):
    from tf_nst.io.provenance import file_sha256, read_provenance

    url, _, _ = studio
    page = page_with_inputs(browser, url, inputs)
    paint(page)  # a stroke on the left half, on layer "Style 1"
    set_run_settings(page)
    watch_preview(page)
    page.locator("#run").click()
    page.wait_for_function("() => window.previews.size >= 2", timeout=RUN_SECONDS * 1000)
    page.locator("#stop").click()
    wait_for_status(page, ["done", "stopped"])
    assert page.evaluate("window.previews.size") >= 2
    output = download(page, tmp_path, "result.png")

    stored = read_provenance(output)
    settings = stored["settings"]
    assert (settings["size"], settings["num_steps"], settings["backbone"]) == (64, 20, "vgg16-hed")
    [mask_path] = stored["masks"]["region_masks"]
    assert file_sha256(mask_path) in stored["inputs_sha256"].values()
    mask = np.asarray(Image.open(mask_path))
    assert mask.shape == (64, 96)  # the content's size
    rows, columns = np.nonzero(mask)
    assert mask.max() == 255 and len(rows) >= 10  # white paint
    # The stroke, and only it: across the middle, left of centre (painted at 30-45% of the editor's width).
    assert 20 <= rows.min() and rows.max() <= 44 and 10 <= columns.min() and columns.max() <= 55
    assert Image.open(output).size[0] == 64

    # Replay: the PNG dropped on the page brings its settings back, and here (this session) its inputs.
    page.locator("#setting-size input").fill("128")
    upload(page, "replay-upload", output)
    page.wait_for_function("() => document.querySelector('#setting-size input').value === '64'", timeout=30_000)
    assert "upload again" not in page.locator("#studio-message").inner_text()
    page.close()
    stranger = open_page(browser, url)  # another session finds the bundled painting, not this one's files
    upload(stranger, "replay-upload", output)
    stranger.wait_for_function("() => /upload again|Error/.test(document.querySelector('#studio-message').innerText)",
                               timeout=30_000)
    stranger.wait_for_timeout(3000)  # the content box's own change comes after: the note stays
    text = stranger.locator("#studio-message").inner_text()
    assert re.search(r"upload again: photo.png$", text.strip()), text  # the mask came from the PNG
    assert stranger.locator("#setting-size input").input_value() == "64"  # the settings came back
    stranger.close()


def test_every_stroke_on_two_layers_reaches_the_masks_and_a_replay_names_the_layers(studio, browser, inputs,
                                                                                    tmp_path):
    """Three strokes on "Style 1", begun at the picture's left edge beside the editor's tool column (a stroke
    begun under that column pressed its buttons: lost), two on "Style 2": each is painted in its mask at its
    place, and drawing one asks the server nothing. The result's caption shows under its thumbnail; replayed, the
    painted layers are "Style 1" and "Style 2" again."""
    from tf_nst.io.provenance import read_provenance

    url, _, _ = studio
    page = page_with_inputs(browser, url, inputs)
    upload(page, "style-upload-1", inputs / "other.png")
    page.wait_for_function("() => document.querySelector('#style-upload-1 a')", timeout=30_000)
    set_run_settings(page, steps=2)
    page.locator("#mask-editor button[aria-label=Brush]").click()
    box = picture_box(page)
    tools = page.locator("#mask-editor .toolbar-wrap").first.bounding_box()
    first = [(0.02, (tools["y"] + tools["height"] * share - box["y"]) / box["height"]) for share in (0.2, 0.5, 0.8)]
    second = [(0.6, 0.25), (0.6, 0.75)]  # (left, middle) of a stroke as shares of the picture
    assert all(0.1 < top < 0.9 for _, top in first)  # the tool column's rows cross the picture

    def paint_strokes(places):
        for left, top in places:
            start = (box["x"] + box["width"] * left, box["y"] + box["height"] * top)
            hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y).tagName", list(start))
            assert hit == "CANVAS", f"a stroke beginning at {start} presses {hit}, not the picture"
            assert stroke(page, start, (start[0] + box["width"] * 0.3, start[1])) == []  # drawn in the browser alone

    paint_strokes(first)
    choose_layer(page, "Style 2")
    page.locator("#mask-editor button[aria-label=Brush]").click()
    paint_strokes(second)
    page.wait_for_timeout(1000)
    output = run_and_keep(page, tmp_path, "five-strokes.png")

    masks = [np.asarray(Image.open(path)) for path in read_provenance(output)["masks"]["region_masks"]]
    assert len(masks) == 2 and masks[0].shape == (64, 96)

    def paint_at(mask, left, top):
        """The most paint in the stroke's middle part (the brush is a few pixels wide)."""
        row, column = round(top * mask.shape[0]), round((left + 0.15) * mask.shape[1])
        return int(mask[max(0, row - 2):row + 3, column - 3:column + 4].max())

    for left, top in first:
        assert (paint_at(masks[0], left, top), paint_at(masks[1], left, top)) == (255, 0), (left, top)
    for left, top in second:
        assert (paint_at(masks[0], left, top), paint_at(masks[1], left, top)) == (0, 255), (left, top)

    caption = page.locator("#results .caption-label").first
    assert re.search(r"64 px · 2 evaluations · vgg16-hed · done", caption.inner_text()), caption.inner_text()
    shown, thumbnail = caption.bounding_box(), page.locator("#results .thumbnail-item").first.bounding_box()
    gallery = page.locator("#results").bounding_box()
    assert shown["y"] >= thumbnail["y"] + thumbnail["height"] - shown["height"] - 2  # under the picture
    assert shown["y"] + shown["height"] <= gallery["y"] + gallery["height"]  # not cut off

    upload(page, "replay-upload", output)
    page.wait_for_function("() => window.editor && window.editor.layer_manager.layers.length === 2", timeout=60_000)
    page.wait_for_timeout(1500)
    assert page.locator("#mask-editor button[aria-label='Show Layers']").inner_text().strip() == "Style 1"
    page.locator("#mask-editor button[aria-label='Show Layers']").click()
    listed = page.locator("#mask-editor .layer-wrap").inner_text()
    assert "Style 2" in listed and not re.search(r"Layer \d", listed), listed
    page.close()


def test_text_file_as_content_is_a_message_then_a_run_works(studio, browser, inputs, tmp_path):
    from tf_nst.io.provenance import file_sha256, read_provenance

    url, process, _ = studio
    page = open_page(browser, url)
    upload(page, "content-upload", inputs / "notes.png")
    page.wait_for_function("() => /not a recognised image file/.test("
                           "document.querySelector('#studio-message').innerText)", timeout=30_000)
    upload(page, "style-upload-0", STYLE_PATH)
    set_run_settings(page)
    page.locator("#run").click()  # the refused upload left no content: refused before the queue
    # The upload's message already says "Error": wait for the click's own, or its answer could land after the
    # next upload's and be read as the second run's.
    page.wait_for_function("() => /expected a content photo/.test(document.querySelector('#studio-message').innerText)",
                           timeout=30_000)
    upload(page, "content-upload", inputs / "other.png")
    page.wait_for_function("() => !/Error/.test(document.querySelector('#studio-message').innerText)")
    wait_for_editor(page)
    output = run_and_keep(page, tmp_path, "second.png")
    assert process.poll() is None
    assert file_sha256(inputs / "other.png") in read_provenance(output)["inputs_sha256"].values()
    assert "masks" not in read_provenance(output)  # nothing painted: every style everywhere
    page.close()


def test_two_sessions_get_their_own_results(studio, browser, inputs, tmp_path):
    from tf_nst.io.provenance import file_sha256, read_provenance

    url, _, _ = studio
    contexts = [browser.new_context() for _ in range(2)]
    pages = []
    for context, name in zip(contexts, ("photo.png", "other.png")):
        page = open_page(context, url)
        upload(page, "content-upload", inputs / name)
        upload(page, "style-upload-0", STYLE_PATH)
        wait_for_editor(page)
        set_run_settings(page, steps=20 if pages else 60)  # the first runs long enough to be waited for
        pages.append(page)
    for page in pages:  # both queued at once: one runs, the other waits its turn and sees its place
        page.locator("#run").click()
    pages[1].wait_for_function("() => /Waiting: 1 run ahead/.test(document.querySelector('#run-status').innerText)",
                               timeout=30_000)
    outputs = []
    for index, (page, name) in enumerate(zip(pages, ("photo.png", "other.png"))):
        wait_for_status(page, ["done", "stopped"])
        output = download(page, tmp_path, f"session-{index}.png")
        assert file_sha256(inputs / name) in read_provenance(output)["inputs_sha256"].values()
        outputs.append(output)
    for page in pages:
        assert page.locator("#results").get_by_role("button").filter(has=page.locator("img")).count() == 1
    assert json.dumps(read_provenance(outputs[0])["inputs"]) != json.dumps(read_provenance(outputs[1])["inputs"])
    for context in contexts:
        context.close()


def test_a_closed_tab_stops_its_run(studio, browser, inputs, tmp_path):
    """A tab closed mid-run (2000 evaluations) frees the queue: the next tab's run does not wait for it."""
    url, _, _ = studio
    leaving = page_with_inputs(browser, url, inputs)
    set_run_settings(leaving, steps=2000)
    leaving.locator("#run").click()
    leaving.wait_for_function("() => /Evaluation/.test(document.querySelector('#run-status').innerText)",
                              timeout=RUN_SECONDS * 1000)
    leaving.close()
    page = open_page(browser, url)
    upload(page, "content-upload", inputs / "other.png")
    upload(page, "style-upload-0", STYLE_PATH)
    wait_for_editor(page)
    set_run_settings(page)
    started = time.monotonic()
    run_and_keep(page, tmp_path, "after.png")
    assert time.monotonic() - started < 60  # 2000 evaluations would take minutes here
    page.close()


def test_serves_nothing_outside_its_folder(studio):
    url, _, _ = studio
    for path in ("/etc/passwd", os.path.join(ROOT, "cli.py")):
        request = urllib.request.Request(f"{url}gradio_api/file={path}")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code in (403, 404)


def open_with_bundled_photo_and_two_paintings(browser, url):
    """A fresh page with the bundled astronaut as the photo and the first two bundled paintings as Styles 1 and 2."""
    page = open_page(browser, url)
    page.locator("#content-samples .thumbnail-item").first.click()
    wait_for_editor(page)
    for painting in (0, 1):
        page.locator("#style-paintings .thumbnail-item").nth(painting).click()
        page.wait_for_function(f"() => document.querySelector('#style-upload-{painting} a')", timeout=30_000)
    return page


@pytest.mark.skipif(not os.environ.get("TF_NST_STUDIO_SCREENSHOT"),
                    reason="writes README's screenshot only when asked: TF_NST_STUDIO_SCREENSHOT=docs/studio.png")
def test_screenshot(studio, browser):
    """The bundled astronaut, The Starry Night painted over the flag and The Scream over the helmet, 192 px,
    after Instant (the arbitrary network) and a Refine."""
    url, _, _ = studio
    page = open_with_bundled_photo_and_two_paintings(browser, url)
    paint(page, left=0.03, right=0.27, top=0.06, bottom=0.52, strokes=8)
    choose_layer(page, "Style 2")
    paint(page, left=0.55, right=0.95, top=0.68, bottom=0.93, strokes=5)
    set_run_settings(page, size=192, steps=40)
    page.locator("#instant").click()
    page.wait_for_function("() => document.querySelector('#preview img')", timeout=120_000)
    page.locator("#run").click()
    wait_for_status(page, ["done", "stopped"], timeout=600)
    page.set_viewport_size({"width": 1500, "height": 1600})  # the whole page in view: no image left to load lazily
    page.wait_for_function("() => [...document.images].every(image => image.complete && image.naturalWidth > 0)",
                           timeout=60_000)
    page.set_viewport_size({"width": 1500, "height": 1300})
    page.mouse.move(5, 5)  # the brush's cursor off the picture
    page.wait_for_timeout(1500)
    page.screenshot(path=os.environ["TF_NST_STUDIO_SCREENSHOT"], full_page=True)


def test_instant_for_an_uploaded_painting_then_refine_records_it(studio, browser, inputs, tmp_path):
    """The arbitrary network's preview of a painting that is no bundled one; Refine starts from it and records
    `init: model:arbitrary` with the hash of its pixels."""
    from tf_nst.io.provenance import read_provenance

    url, _, _ = studio
    page = open_page(browser, url)
    upload(page, "content-upload", inputs / "photo.png")
    upload(page, "style-upload-0", inputs / "other.png")  # an upload as the painting
    wait_for_editor(page)
    set_run_settings(page, steps=5)
    watch_preview(page)
    page.locator("#instant").click()
    page.wait_for_function("() => window.previews.size >= 1 || "
                           "/Error/.test(document.querySelector('#studio-message').innerText)", timeout=60_000)
    assert "Error" not in page.locator("#studio-message").inner_text(), page.locator("#studio-message").inner_text()
    stored = read_provenance(str(run_and_keep(page, tmp_path, "refined.png")))
    assert stored["settings"]["init"] == "model:arbitrary" and len(stored["init"]["sha256"]) == 64
    assert "from Instant" in page.locator("#results").inner_text()  # the caption says so
    page.close()


@pytest.mark.large
def test_two_painted_regions_replay_in_the_cli_and_on_a_fresh_page(studio, browser, tmp_path):
    """Bundled photo and paintings, a region painted on each layer, float32: `stylize --from` gives the same
    pixels, and a fresh browser given the PNG paints with the same two masks."""
    from click.testing import CliRunner

    from tf_nst.cli import app as cli
    from tf_nst.io.provenance import read_provenance

    url, _, _ = studio
    page = open_with_bundled_photo_and_two_paintings(browser, url)
    paint(page, left=0.1, right=0.4, top=0.3, bottom=0.3)
    choose_layer(page, "Style 2")
    paint(page, left=0.55, right=0.9, top=0.7, bottom=0.7)
    set_run_settings(page, steps=10, precision="float32")
    output = run_and_keep(page, tmp_path, "regions.png")
    stored = read_provenance(output)
    masks = stored["masks"]["region_masks"]
    assert len(masks) == 2 and stored["settings"]["precision"] == "float32"
    page.close()  # its folder, masks included, goes with it (the server hears of it a moment later)
    deadline = time.monotonic() + 60
    while any(os.path.exists(mask) for mask in masks) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(os.path.exists(mask) for mask in masks)

    replay = tmp_path / "replayed.png"
    result = CliRunner().invoke(cli.cli, ["stylize", "--from", str(output), "-o", str(replay), "--quiet"])
    assert result.exit_code == 0, result.output
    assert np.array_equal(np.asarray(Image.open(replay)), np.asarray(Image.open(output)))

    context = browser.new_context()  # a fresh browser: nothing of the first session
    fresh = open_page(context, url)
    upload(fresh, "replay-upload", output)
    wait_for_editor(fresh)
    fresh.wait_for_function("() => document.querySelector('#style-upload-1 a')", timeout=30_000)
    assert "upload again" not in fresh.locator("#studio-message").inner_text()
    again = read_provenance(run_and_keep(fresh, tmp_path, "again.png"))
    assert sorted(again["inputs_sha256"].values()) == sorted(stored["inputs_sha256"].values())  # both masks
    context.close()


def test_stop_on_a_waiting_run_means_it_never_starts(studio, browser, inputs, tmp_path):
    url, _, _ = studio
    contexts = [browser.new_context() for _ in range(2)]
    running, waiting = [page_with_inputs(context, url, inputs) for context in contexts]
    set_run_settings(running, steps=60)
    set_run_settings(waiting)
    running.locator("#run").click()
    running.wait_for_function("() => /Starting|Evaluation/.test(document.querySelector('#run-status').innerText)",
                              timeout=60_000)
    waiting.locator("#run").click()
    waiting.wait_for_function("() => /Waiting: 1 run ahead/.test(document.querySelector('#run-status').innerText)",
                              timeout=30_000)
    waiting.locator("#stop").click()
    wait_for_status(running, ["done", "stopped"])
    waiting.wait_for_function("() => /Stopped before it started/.test("
                              "document.querySelector('#run-status').innerText)", timeout=60_000)
    assert waiting.locator("#results img").count() == 0 and waiting.locator("#preview img").count() == 0
    for context in contexts:
        context.close()


def test_zz_a_stopped_server_leaves_nothing_of_its_folder(studio):
    """Last in the module: SIGTERM, then no tf-nst-studio-* folder is left in its TMPDIR."""
    _, process, folder = studio
    made = [name for name in os.listdir(folder / "tmp") if name.startswith("tf-nst-studio-")]
    assert made  # the studio's folder was there while it ran
    stop_studio(process)
    assert os.listdir(folder / "tmp") == []
