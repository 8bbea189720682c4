"""Stand-ins for remote services in tests (no network)."""


class FakeObjectStore:
    """Beam's `FileSystems` calls the expansion makes, over a dict of objects (an object store has no folders)."""

    def __init__(self, objects):
        self.objects = objects

    def exists(self, path):
        return path in self.objects

    def match(self, patterns):
        import fnmatch
        import types

        found = [types.SimpleNamespace(path=path) for path in sorted(self.objects)
                 if fnmatch.fnmatchcase(path, patterns[0])]
        return [types.SimpleNamespace(metadata_list=found)]

    def open(self, path):
        import io

        return io.BytesIO(self.objects[path])
