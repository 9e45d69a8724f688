"""What a reader of an HTML page sees, from Debian's headless Chromium (`chromium`).

`read_page` opens a copy of the page with a small script appended: after the load event it
writes, into the DOM, the page's visible text (innerText: what is rendered, not the source),
the text of every list item and, for every <img>, whether it decoded (naturalWidth) and its
size; `--dump-dom` prints the DOM once loading and that script are done (--virtual-time-budget
waits for them). scripts/install.sh --test installs chromium where it can (root with apt-get).
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile

PROBE_ID = "langid-browser-probe"
PROBE = """<script>
window.addEventListener("load", () => {
  const out = {
    text: document.body.innerText,
    items: Array.from(document.querySelectorAll("li"), li => li.innerText),
    images: Array.from(document.images, img => ({src: img.getAttribute("src").slice(0, 40), alt: img.alt,
      complete: img.complete, width: img.naturalWidth, height: img.naturalHeight})),
  };
  const pre = document.createElement("pre");
  pre.id = "@ID@";
  pre.textContent = JSON.stringify(out);
  document.documentElement.appendChild(pre);
});
</script>""".replace("@ID@", PROBE_ID)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--virtual-time-budget=10000"]


def chromium() -> str | None:
    return shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium") or None


def why_not_installable() -> str | None:
    """None when Debian's chromium could be installed here (root with apt-get), else why not."""
    if not shutil.which("apt-get"):
        return "no apt-get (not Debian)"
    if os.geteuid() != 0:
        return "not root, so apt-get cannot install it"
    return None


def _run(args: list[str], timeout_s: float) -> str:
    with tempfile.TemporaryDirectory(prefix="langid-chromium-") as profile:
        done = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def read_page(path: str, timeout_s: float = 120) -> dict:
    """{"text", "items", "images"} of the page at `path` as Chromium renders it. The probed copy
    sits next to the page, so relative links resolve as they do for the page itself."""
    with open(path, encoding="utf-8") as f:
        page = f.read()
    probed = os.path.join(os.path.dirname(os.path.abspath(path)), ".probe-" + os.path.basename(path))
    with open(probed, "w", encoding="utf-8") as f:
        f.write(page.replace("</body>", PROBE + "</body>") if "</body>" in page else page + PROBE)
    try:
        dom = _run(["--dump-dom", "file://" + probed], timeout_s)
    finally:
        os.remove(probed)
    found = re.search(rf'<pre id="{PROBE_ID}">(.*?)</pre>', dom, re.S)
    if not found:
        raise RuntimeError("the probe script did not run; the DOM ends: " + dom[-500:])
    return json.loads(html.unescape(found.group(1)))


def screenshot(path: str, png: str, width: int = 1100, height: int = 3000, timeout_s: float = 120) -> str:
    _run([f"--screenshot={png}", f"--window-size={width},{height}", "file://" + os.path.abspath(path)], timeout_s)
    return png
