"""Crawl audio-lingua's public catalogue into the S3 layout the pipeline ingests.

    s3://BUCKET/PREFIX{Language}/{file}.mp3      one object per clip
    s3://BUCKET/PREFIX manifest.jsonl            one JSON row per clip (speaker ids for the split)

The package does not import the pipeline; the two only share `storage.s3` and the layout above.
See docs/scraper.md for the commands, flags and guarantees.
"""

__version__ = "0.1.0"
