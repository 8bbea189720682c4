"""The style-target cache: each style's statistics computed once per scale and reused.

A batch runs many contents against one style; a video runs every frame against it. The
statistics of a style (its Grams, or means and second moments) depend only on its pixels,
its mask and the tiling, so they are kept by those, least recently used dropped first.
"""

import hashlib

import numpy as np

STYLE_CACHE_SIZE = 32  # style statistic sets kept for reuse


def _digest(array):
    array = np.ascontiguousarray(array)
    return hashlib.sha256(array.tobytes()).hexdigest(), array.shape, str(array.dtype)


class StyleCache:
    """Least-recently-used cache of style statistics.

    Args:
        size: entries kept.

    Example:
    ```python
    cache = StyleCache()
    moments = cache.get(style_rgb, None, tile_size=None, compute=lambda: objective.style_statistics(style))
    cache.info()  # {"hits": 0, "misses": 1, "size": 1}
    ```
    """

    def __init__(self, size=STYLE_CACHE_SIZE):
        self.size = size
        self._entries = {}
        self._stats = {"hits": 0, "misses": 0}

    def get(self, style_rgb, style_mask, tile_size, compute):
        """The cached statistics of `(style_rgb, style_mask, tile_size)`, else `compute()`'s."""
        key = (_digest(np.asarray(style_rgb, np.uint8)),
               None if style_mask is None else _digest(np.asarray(style_mask, np.float32)), tile_size)
        if key in self._entries:
            self._stats["hits"] += 1
            self._entries[key] = self._entries.pop(key)  # most recently used last
            return self._entries[key]
        self._stats["misses"] += 1
        value = compute()
        self._entries[key] = value
        while len(self._entries) > self.size:
            self._entries.pop(next(iter(self._entries)))
        return value

    def info(self):
        """`{"hits": n, "misses": n, "size": n}`."""
        return {**self._stats, "size": len(self._entries)}

    def clear(self):
        self._entries.clear()
