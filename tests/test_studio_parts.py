"""The studio's parts without a browser (and without Gradio): the form from the schema in a person's words,
painted masks, upload caps, files removed with their tab, messages without server paths, a replay from the
masks the PNG holds, and the runner's Stop, queue, ETA and closed-tab paths (on a stand-in Stylizer)."""

import dataclasses
import os
import threading
import time
import types

import numpy as np
import pytest
from PIL import Image

from conftest import CONTENT_PATH, STYLE_PATH
from tf_nst.engine.status import RunStatus
from tf_nst.errors import ImageError, InvalidArgumentError, WeightsError
from tf_nst.io.provenance import read_provenance
from tf_nst.settings import INIT_MODES, StylizeSettings, fields_by_name
from tf_nst.studio import form
from tf_nst.studio.files import PREVIEWS_KEPT, StudioFiles, mask_layer, painted_masks
from tf_nst.studio.runner import Job, Runner, Update, region_keywords, stored_mask_paths


def test_form_offers_every_command_line_setting_once_basic_ones_first():
    offered = form.field_names()
    expected = {name for name, field in fields_by_name().items() if field.metadata["cli"]} - {form.BLEND_FIELD}
    assert len(offered) == len(set(offered)) and set(offered) == expected
    assert tuple(offered[:len(form.BASIC_SETTINGS)]) == form.BASIC_SETTINGS


def test_form_speaks_to_a_person_and_groups_the_rest():
    fields = form.form_fields()
    grouped = [name for _, names in form.GROUPS for name in names]
    assert sorted(grouped + list(form.BASIC_SETTINGS)) == sorted(field.name for field in fields)
    for field in fields:
        words = form.label(field) + " " + form.hint(field)
        assert not any(cli in words for cli in ("--", "Python:", "jcjohnson", "keras.Model")), words
    assert form.label(fields_by_name()["num_steps"]) == "Evaluations"


def test_form_defaults_are_the_command_lines():
    values = {field.name: form.default_value(field) for field in form.form_fields()}
    assert form.build_settings(values) == StylizeSettings(precision="auto")


def test_form_round_trips_stored_settings():
    settings = StylizeSettings(size=96, num_steps=30, backbone="vgg16-hed", style_layers="block1_conv1:0.5,block2_conv1",
                               scales="48,96", scale_steps="10,20", tile_size=64, max_seconds=5.0, style_blend=[1, 3],
                               init="random", weights=None)
    values = form.values_of(settings.to_dict())
    assert values["style_layers"] == "block1_conv1:0.5,block2_conv1:1" and values["weights"] == "random"
    assert form.build_settings(values, blend=[1.0, 3.0]) == settings


def test_form_errors_are_the_schemas():
    values = form.values_of(StylizeSettings().to_dict())
    with pytest.raises(InvalidArgumentError, match=r"size in \[32, 16384\]"):
        form.build_settings({**values, "size": 10})
    with pytest.raises(InvalidArgumentError, match="tile_size a number"):
        form.build_settings({**values, "tile_size": "big"})


def test_no_setting_names_a_file_on_the_server():
    fields = fields_by_name()
    assert form.choices(fields["init"]) == list(INIT_MODES)
    assert form.form_value(fields["weights"], "/etc/weights.h5") == "default"
    assert form.form_value(fields["init"], "/home/someone/photo.jpg") == "content"


def rgba_layer(height, width, paint=None, value=255, alpha=127):
    layer = np.zeros((height, width, 4), np.uint8)
    if paint is not None:
        layer[paint] = (value, value, value, alpha)
    return layer


def test_painted_masks_are_exactly_the_paint():
    white = rgba_layer(20, 30, (slice(0, 10), slice(0, 15)))
    soft = rgba_layer(20, 30, (slice(10, 20), slice(0, 30)), value=128)
    masks = painted_masks([white, soft, rgba_layer(20, 30)], 3, (40, 60, 3))
    assert [mask.shape for mask in masks] == [(40, 60)] * 3  # at the content's size
    assert masks[0][:18, :28].min() == 255 and masks[0][22:].max() == 0
    assert 120 <= masks[1][25, 30] <= 136 and masks[2].max() == 0
    assert painted_masks([rgba_layer(20, 30)] * 3, 3, (20, 30, 3)) is None  # nothing painted: no masks
    black = painted_masks([rgba_layer(20, 30, (slice(0, 5), slice(0, 5)), value=0)], 1, (20, 30, 3))
    assert black[0].max() == 0  # black paint is painted: an all-black mask, which the run refuses
    replayed = mask_layer(masks[1], (60, 40))  # a stored mask back in the editor reads as itself
    assert np.array_equal(painted_masks([replayed], 1, (40, 60, 3))[0], masks[1])


def test_uploads_are_capped_and_checked(tmp_path):
    files = StudioFiles(tmp_path / "studio", max_upload_bytes=2_000, max_input_pixels=100)
    Image.new("RGB", (20, 20)).save(tmp_path / "big.png")
    with pytest.raises(ImageError, match=r"big.png: image is 20x20 = 400 pixels, expected at most 100"):
        files.check_upload(tmp_path / "big.png")
    with pytest.raises(ImageError, match=r"bytes, expected at most 2000"):
        files.check_upload(STYLE_PATH)
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageError, match="notes.png: not a recognised image file"):
        files.check_upload(tmp_path / "notes.png")


def test_messages_name_no_server_path_and_no_command_line_option(tmp_path):
    files = StudioFiles(tmp_path / "studio", max_input_pixels=100)
    upload = tmp_path / "studio" / "3f2a9c" / "big.png"
    upload.parent.mkdir(parents=True)
    Image.new("RGB", (20, 20)).save(upload)
    with pytest.raises(ImageError) as refused:
        files.check_upload(upload)
    shown = files.public_text(f"**Error:** {refused.value}; also {files.session_folder('s')}/mask-1.png")
    assert shown == ("**Error:** big.png: image is 20x20 = 400 pixels, expected at most 100; "
                     "also mask-1.png")


def test_a_closed_tab_leaves_no_file_and_a_stopped_server_nothing(tmp_path):
    files = StudioFiles(tmp_path / "studio")
    uploads = []
    for name in ("a", "b", "shared"):
        (tmp_path / "studio" / name).mkdir()
        uploads.append(tmp_path / "studio" / name / "photo.png")
        Image.new("RGB", (8, 8)).save(uploads[-1])
    files.track("tab-1", uploads[0], uploads[2], "/etc/passwd", None)
    files.track("tab-2", uploads[1], uploads[2])
    frames = [files.write_preview("tab-1", np.full((4, 4, 3), value, np.uint8)) for value in range(5)]
    assert [os.path.exists(frame) for frame in frames] == [False] * (5 - PREVIEWS_KEPT) + [True] * PREVIEWS_KEPT
    files.forget_session("tab-1")
    assert not os.path.exists(files._session_path("tab-1")) and not uploads[0].exists()
    assert uploads[1].exists() and uploads[2].exists()  # another open tab holds it
    files.forget_session("tab-2")
    assert sorted(os.listdir(files.root)) == ["sessions"] and os.listdir(os.path.join(files.root, "sessions")) == []
    files.remove_all()
    assert not os.path.exists(files.root) and os.path.exists("/etc/passwd")


def test_a_closed_tab_leaves_the_galleries_copies_of_the_bundled_samples(tmp_path):
    """Gradio serves every tab's sample galleries from its copies in the folder; a tab that picked a sample (or
    uploaded the same bytes) closing must not take them away (the next tab's gallery showed a broken image)."""
    from tf_nst.studio.files import BUNDLED_CONTENTS, bundled

    files = StudioFiles(tmp_path / "studio")
    copies = []
    for index, sample in enumerate(bundled(BUNDLED_CONTENTS[:2])):
        copies.append(tmp_path / "studio" / f"gallery-{index}" / os.path.basename(sample))
        copies[-1].parent.mkdir()
        copies[-1].write_bytes(open(sample, "rb").read())
    files.track("tab", *copies)
    files.forget_session("tab")
    assert all(copy.exists() for copy in copies)


def test_a_dropped_png_brings_its_painted_layers_back_from_itself(tmp_path):
    """The masks are in the PNG: a new session, with the painting session's files gone, gets both layers."""
    from tf_nst.io.images import save_png
    from tf_nst.studio import actions

    files = StudioFiles(tmp_path / "studio")
    left, right = np.zeros((512, 512), np.uint8), np.zeros((512, 512), np.uint8)
    left[:, :200], right[:, 300:] = 255, 128
    masks = [files.write_png("painter", mask, "mask") for mask in (left, right)]
    result = tmp_path / "result.png"
    save_png(result, np.zeros((64, 64, 3), np.uint8), settings=StylizeSettings(size=64).to_dict(),
             inputs=[CONTENT_PATH, STYLE_PATH, STYLE_PATH], masks={"region_masks": masks})
    files.forget_session("painter")
    restored = actions.replay(files, actions.new_state("fresh"), result)
    assert restored["content"] == CONTENT_PATH and restored["slots"][:2] == [STYLE_PATH, STYLE_PATH]
    assert "upload again" not in restored["message"]
    back = painted_masks(restored["editor"]["layers"], 2, (512, 512, 3))
    assert np.array_equal(back[0], left) and np.abs(back[1].astype(int) - right).max() <= 1


def test_a_bundled_sample_keeps_its_own_path(tmp_path):
    copy = tmp_path / "upload.png"
    copy.write_bytes(open(CONTENT_PATH, "rb").read())
    loaded, path = StudioFiles(tmp_path / "studio").check_upload(copy)
    assert path == CONTENT_PATH and loaded.rgb.shape == (512, 512, 3)


def test_region_keywords_in_one_place():
    assert region_keywords(None) == ({}, None)
    keywords, stored = region_keywords(["a.png", "b.png"])
    assert keywords == {"region_masks": ["a.png", "b.png"]} and stored_mask_paths({"masks": stored}) == ["a.png", "b.png"]


class StandInStylizer:
    """Runs "evaluations" until asked to stop, like `Stylizer.stylize` (chunks, callback, should_stop)."""

    def __init__(self, settings):
        self.settings = settings
        self.schedule = types.SimpleNamespace(total_steps=1000)
        self.stopped = threading.Event()

    def get_config(self):
        return self.settings.to_dict()

    def stylize(self, content, styles, callback, should_stop, chunk_steps, init=None, **keywords):
        image = np.zeros((8, 8, 3), np.uint8)
        done = 0
        while not should_stop() and done < self.schedule.total_steps:
            done += chunk_steps
            callback(types.SimpleNamespace(step=done, total_steps=1000, losses={"total": 1.0},
                                           rows=np.ones((chunk_steps, 4)), scale_index=0, best_image=lambda: image))
            time.sleep(0.02)  # 200 chunks: 4 s, unless stopped
        self.stopped.set()
        status = RunStatus.STOPPED if should_stop() else RunStatus.DONE
        return types.SimpleNamespace(image=image, alpha=None, steps=done, seconds=0.1, status=status, notes=[])


@pytest.fixture
def stand_in(monkeypatch):
    stylizer = StandInStylizer(StylizeSettings(size=64))
    monkeypatch.setattr(Runner, "stylizer", lambda self, settings: stylizer)
    return stylizer


def job(tmp_path, name):
    return Job(settings=StylizeSettings(size=64), content=CONTENT_PATH, styles=[STYLE_PATH], mask_paths=None,
               output=str(tmp_path / name))


def test_stop_keeps_the_best_image_so_far(stand_in, tmp_path):
    runner = Runner()
    updates = runner.updates(job(tmp_path, "stopped.png"), "session-a")
    first = next(updates)
    assert first.image.shape == (8, 8, 3) and first.losses == (1.0,) * 5
    runner.stop("session-b")  # another session's Stop: nothing here
    assert runner.running("session-a") and not stand_in.stopped.is_set()
    runner.stop("session-a")
    final = [update for update in updates][-1]
    assert final.final and final.status == "stopped" and not runner.running("session-a")
    assert read_provenance(final.output)["settings"]["size"] == 64


def test_a_closed_tab_stops_its_run(stand_in, tmp_path):
    updates = Runner().updates(job(tmp_path, "closed.png"), "session-c")
    next(updates)
    updates.close()  # what Gradio does with the generator of a tab that went away
    assert stand_in.stopped.wait(5)


def test_a_failed_run_is_a_message(monkeypatch, tmp_path):
    def refuse(self, settings):
        raise InvalidArgumentError("expected masks with a region somewhere (white or grey). Received: every mask black")

    monkeypatch.setattr(Runner, "stylizer", refuse)
    [update] = list(Runner().updates(job(tmp_path, "never.png"), "session-d"))
    assert update.final and "every mask black" in update.error


def test_the_eta_leaves_out_the_first_chunk_which_builds_the_model():
    first = dict(first_done=5, first_seconds=9.0)  # 9 s: the model built and traced
    assert Update(done=5, total=20, seconds=9.0, **first).eta is None
    assert Update(done=10, total=20, seconds=10.0, **first).eta == pytest.approx(2.0)  # 0.2 s an evaluation
    assert Update(done=5, total=20, seconds=2.0).eta == pytest.approx(6.0)


def test_stop_cancels_a_waiting_run_of_its_own_session_only():
    runner = Runner()
    assert runner.wait("a") == 0 and runner.wait("b") == 1 and runner.wait("a") == 2
    runner.stop("a")  # both of a's waiting runs
    assert runner.wait("a") == 3  # pressed again after Stop: this one runs
    assert [runner.admit(session) for session in ("a", "b", "a", "a")] == [False, True, False, True]
    assert runner.wait("d") == 2  # b's and a's admitted runs are ahead until released
    runner.release()
    runner.release()
    assert runner.admit("d") and runner.wait("e") == 1


def test_a_failed_download_is_one_sentence(monkeypatch, tmp_path):
    import tf_nst.engine.backbones as backbones

    def offline(self, settings):
        raise WeightsError("could not download the ImageNet weights for vgg19 (URL fetch failure). Expected a "
                           "weights file: download https://storage.googleapis.com/... once and pass --weights PATH")

    monkeypatch.setattr(Runner, "stylizer", offline)
    monkeypatch.setattr(backbones, "pending_download", lambda backbone, weights="default": "https://example")
    [update] = list(Runner().updates(job(tmp_path, "never.png"), "session-f"))
    assert update.error == ("the vgg19 weights could not be downloaded (is this machine offline?): "
                            "choose a Network marked 'ready'")


def test_an_instant_preview_plugs_in(stand_in, tmp_path):
    """The hook for a feed-forward model: an "Instant" button, and the next run starts from its image."""
    pytest.importorskip("gradio", reason="the page needs Gradio: pip install -r requirements-studio.txt")
    from tf_nst.studio.page import build_page

    def instant(content, styles, settings, mask_paths=None):
        return np.full((8, 8, 3), 7, np.uint8)

    files = StudioFiles(tmp_path / "studio")
    with_instant, without = build_page(files, Runner(), instant=instant), build_page(files, Runner())
    buttons = [{block.elem_id: block for block in page.blocks.values()}["instant"] for page in (with_instant, without)]
    assert [button.visible for button in buttons] == [True, False]
    seen = {}
    stand_in.stylize = lambda *args, init=None, **keywords: seen.setdefault("init", init) and None
    refine = dataclasses.replace(job(tmp_path, "refined.png"), init=instant(None, None, None),
                                 init_kind="model:arbitrary")
    list(Runner().updates(refine, "session-e"))
    assert seen["init"].shape == (8, 8, 3)
