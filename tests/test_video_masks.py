"""Mask sources of a video: one image for every frame, a folder or a video of per-frame masks, checked first."""

import numpy as np
import pytest
from PIL import Image

from tf_nst.errors import ImageError, InvalidArgumentError
from tf_nst.io.video_writer import write_video
from tf_nst.runs.video_masks import check_frame_masks, fit_mask, frame_mask_files, open_frame_masks


def half(width=32, height=24, left=True, value=255):
    mask = np.zeros((height, width), np.uint8)
    mask[:, : width // 2] = value
    return mask if left else 255 - mask


def test_an_image_a_folder_and_a_video_of_masks(tmp_path):
    Image.fromarray(half()).save(tmp_path / "left.png")
    image = open_frame_masks(tmp_path / "left.png", 3)
    assert image.kind == "image" and [label for label, _ in image] == [str(tmp_path / "left.png")] * 3
    np.testing.assert_array_equal(next(iter(image))[1], half())
    folder = tmp_path / "masks"
    folder.mkdir()
    for number in (10, 2, 1):  # natural order: 1, 2, 10
        Image.fromarray(half(value=number)).save(folder / f"m{number}.png")
    masks = open_frame_masks(folder, 2)
    assert [label for label, _ in masks] == [str(folder / "m1.png"), str(folder / "m2.png")]  # extras unused
    assert [int(mask.max()) for _, mask in masks] == [1, 2]
    assert frame_mask_files(masks.labels()) == masks.labels() and masks.describe() == {"kind": "folder"}
    with pytest.raises(InvalidArgumentError, match=r"expected style mask with one mask per frame \(4 frames\). "
                                                   rf"Received: {folder} has 3"):
        open_frame_masks(folder, 4)
    frames = [np.repeat(half(left=index % 2 == 0)[..., None], 3, axis=2) for index in range(3)]
    write_video(tmp_path / "masks.mp4", frames, 10)
    video = open_frame_masks(tmp_path / "masks.mp4", 3)
    assert video.kind == "video" and video.labels()[1] == f"{tmp_path / 'masks.mp4'}#frame 2"
    assert frame_mask_files(video.labels()) == [] and len(video.describe()["sha256"]) == 64
    decoded = [mask for _, mask in video]
    assert len(decoded) == 3 and decoded[1][:, :12].mean() < 30 and decoded[1][:, 20:].mean() > 225
    with pytest.raises(InvalidArgumentError, match="has 3"):
        open_frame_masks(tmp_path / "masks.mp4", 5)
    (tmp_path / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(ImageError, match="cannot decode image"):
        open_frame_masks(tmp_path / "torn.png", 3)
    with pytest.raises(InvalidArgumentError, match=r"expected style mask a path \(an image, a folder of images or a "
                                                   r"video\). Received: ndarray"):
        open_frame_masks(half(), 3)


def test_masks_are_checked_against_the_clip_before_any_frame(tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    for number, mask in enumerate([half(), half(value=0), half(64, 48)], start=1):
        Image.fromarray(mask).save(folder / f"m{number}.png")
    masks = open_frame_masks(folder, 3)
    with pytest.raises(InvalidArgumentError, match=r"Received: frame 2 black everywhere \(.*m2.png\)"):
        check_frame_masks([masks], (32, 24), ["masks[0]"])
    Image.fromarray(half(left=False)).save(tmp_path / "right.png")
    # Another style's region at frame 2: allowed; a mask of another size is noted once.
    notes = check_frame_masks([open_frame_masks(folder, 3), open_frame_masks(tmp_path / "right.png", 3)],
                              (64, 48), ["masks[0]", "masks[1]"])
    assert notes == [f"masks[0] {folder / 'm1.png'}: 32x24 resized to the frames' 64x48",
                     f"masks[1] {tmp_path / 'right.png'}: 32x24 resized to the frames' 64x48"]
    with pytest.raises(InvalidArgumentError, match="expected masks.0. .*m1.png with the aspect ratio of its image "
                                                   r"\(48x48"):
        check_frame_masks([open_frame_masks(folder, 3)], (48, 48), ["masks[0]"])
    fitted = fit_mask(half(), 48, 64)
    assert fitted.shape == (48, 64) and fitted.dtype == np.float32
    assert fitted[:, :30].min() == 1.0 and fitted[:, 34:].max() == 0.0
    np.testing.assert_array_equal(fit_mask(half(), 24, 32), half() / 255.0)
