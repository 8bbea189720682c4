"""tf_nst.runs.records: per-pair outcomes, the batch summary and the append-only manifest."""

import json

from tf_nst.runs.records import STATUSES, BatchSummary, Manifest, Pair, PairResult, read_manifest


def test_manifest_lines_are_whole(tmp_path):
    manifest = Manifest(tmp_path / "manifest.jsonl", run_id="run-1")
    manifest.append(PairResult("a.png", "s.png", "out/a--s.png", "ok", seconds=1.5, loss=2.0, steps=3))
    with open(tmp_path / "manifest.jsonl", "a") as stream:
        stream.write('{"torn": ')  # a crash in the middle of a write
    records = read_manifest(tmp_path / "manifest.jsonl")
    assert len(records) == 1 and records[0]["run"] == "run-1" and records[0]["loss"] == 2.0
    assert json.loads(open(tmp_path / "manifest.jsonl").readline())["status"] == "ok"


def test_summary_counts_and_line():
    results = [PairResult("a.png", "s.png", "out/a--s.png", status) for status in ("ok", "skipped", "error")]
    summary = BatchSummary(results=results, total=5, seconds=2.0, manifest="out/manifest.jsonl", interrupted=True)
    assert (summary.ok, summary.skipped, summary.errors, summary.not_done, summary.all_ok) == (1, 1, 1, 2, False)
    assert summary.summary_line() == ("5 pairs: 1 ok, 1 skipped, 1 error, 2 not done (interrupted) in 2.0 s; "
                                      "manifest out/manifest.jsonl")
    assert set(STATUSES) == {"ok", "skipped", "error", "interrupted"}
    assert BatchSummary(results=results[:2], total=2, seconds=0.0, manifest="m").all_ok


def test_a_mask_is_in_the_pair_and_in_the_manifest_line_only_when_set():
    plain, masked = Pair("a.png", "s.png"), Pair("a.png", "s.png", "left.png")
    assert (plain.inputs, masked.inputs) == (["a.png", "s.png"], ["a.png", "s.png", "left.png"])
    assert plain != masked and plain.key != masked.key
    assert "mask" not in json.loads(PairResult("a.png", "s.png", "out/a--s.png", "ok").to_json())
    line = json.loads(PairResult("a.png", "s.png", "out/a--s--left.png", "ok", mask="left.png").to_json())
    assert line["mask"] == "left.png"
