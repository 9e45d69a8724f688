"""local_runner's options reach the pipeline it builds (no run: the pipeline object is inspected)."""
from __future__ import annotations

import local_runner


def _pipeline(tmp_path, *flags):
    args = local_runner.parse_args(["--output-dir", str(tmp_path / "out"), "--serving-dir", str(tmp_path / "serving"),
                                    *flags])
    return local_runner.build(args.config, args.output_dir)


def test_no_cache_turns_the_ml_metadata_cache_off(tmp_path):
    assert _pipeline(tmp_path).enable_cache is True
    assert _pipeline(tmp_path, "--no-cache").enable_cache is False
