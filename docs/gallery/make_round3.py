"""Round 3 gallery: regional masks and the two style statistics (vgg16-hed, 256 px, 100 L-BFGS steps).

    python docs/gallery/make_round3.py
"""

import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tf_nst import Stylizer, load_image, save_png
from tf_nst.engine import pyramid

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.path.join(ROOT, "tf_nst", "assets")
TUBINGEN = "/work/shared/images/tubingen.jpg"


def soft_split(height, width, axis, edge=12):
    """A mask white before the middle of `axis` (0: rows, 1: columns), with a soft `edge` px ramp."""
    size = (height, width)[axis]
    ramp = np.clip((size / 2 - np.arange(size)) / edge + 0.5, 0.0, 1.0).astype(np.float32)
    return np.broadcast_to(ramp[:, None] if axis == 0 else ramp[None, :], (height, width)).copy()


def main():
    content_path = TUBINGEN if os.path.exists(TUBINGEN) else os.path.join(ASSETS, "astronaut.png")
    content = pyramid.fit(load_image(content_path).rgb, 256)
    starry, scream = (os.path.join(ASSETS, name) for name in ("starry_night.jpg", "the_scream.jpg"))
    height, width = content.shape[:2]
    sky = soft_split(height, width, axis=0)
    left = soft_split(height, width, axis=1)
    runs = {
        "masked_sky_only": {"styles": [starry], "masks": [sky]},
        "masked_two_styles": {"styles": [starry, scream], "masks": [left, 1.0 - left]},
        "statistic_gram": {"styles": [starry], "style_statistic": "gram"},
        "statistic_mean-cov": {"styles": [starry], "style_statistic": "mean-cov"},
    }
    for name, run in runs.items():
        stylizer = Stylizer(backbone="vgg16-hed", size=256, num_steps=100, precision="float32",
                            style_statistic=run.get("style_statistic", "gram"))
        result = stylizer.stylize(content, run["styles"], masks=run.get("masks"))
        path = os.path.join(HERE, f"{name}.png")
        save_png(path, result.image, settings=stylizer.get_config(), inputs=[content_path, *run["styles"]])
        print(name, result.best_loss, f"{result.seconds:.0f} s", path)


if __name__ == "__main__":
    main()
