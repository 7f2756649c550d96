"""Stable chart SVGs, and the monthly report as PDF.

The chart images themselves are made by dashboards.pages.images. The PDF needs
Chromium; without it `print_report_pdf` returns False.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

# The images' text is measured and drawn in a font that ships with the site. With
# the build machine's own sans-serif, the same chart would lay out differently on
# another machine, and on Debian (whose Liberation Sans has no Vietnamese letters)
# every label with one was drawn in a serif fallback beside sans-serif numbers.
FONTS = Path(__file__).parent / "vendor" / "fonts"
IMAGE_FONT = "DejaVu Sans, sans-serif"


_COUNTED_ID = re.compile(r"(?<=id=\")(gradient|clip|pattern|marker)_?(\d+)(?=\")|(?<=url\(#)(gradient|clip|pattern|marker)_?(\d+)(?=\))|(?<=href=\"#)(gradient|clip|pattern|marker)_?(\d+)(?=\")")


def stable_ids(svg: str) -> str:
    """Vega numbers gradients and clips with a counter that lives as long as the
    process; renumber them in order of appearance so the same chart gives the same bytes."""
    seen: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        key = m.group(0)
        kind = m.group(1) or m.group(3) or m.group(5)
        if key not in seen:
            seen[key] = f"{kind}_{sum(1 for k in seen.values() if k.startswith(kind + '_'))}"
        return seen[key]

    return _COUNTED_ID.sub(sub, svg)


def chart_files(spec: dict, vl: str, locale: dict, scale: float, formats: list[str]) -> list[bytes]:
    """One chart's image files, in `formats` ("svg", "png"): drawn once, as SVG.
    vl-convert holds Python's lock while it draws, so the site runs this in its
    second process where there is one (transforms.aside)."""
    import vl_convert as vlc

    _register_fonts()
    spec = {**spec, "config": {**spec.get("config", {}), "font": IMAGE_FONT}}
    svg = stable_ids(vlc.vegalite_to_svg(spec, vl_version=vl, format_locale=locale))
    return [svg.encode("utf-8") if f == "svg" else vlc.svg_to_png(svg, scale=scale) for f in formats]


@functools.cache
def _register_fonts() -> None:
    """Once per process: vl-convert keeps the fonts it was given until the process ends."""
    import vl_convert as vlc

    vlc.register_font_directory(str(FONTS))


# --------------------------------------------------------------------------- PDF

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def chromium_path() -> str | None:
    """The Chromium (or Chrome) on PATH, or in $CHROMIUM; None when there is none."""
    env = os.environ.get("CHROMIUM")
    if env and Path(env).is_file():
        return env
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


_PDF_DATES = re.compile(rb"/(CreationDate|ModDate) \(D:\d{14}")
_PDF_NODE_IDS = re.compile(rb"\(node(\d{8})\)")


def _reproducible(pdf: bytes) -> bytes:
    """The same page must give the same bytes. Chromium stamps the time of printing,
    and names the tagged PDF's structure elements by its own DOM node numbers, which
    on a busy machine shift by one now and then (it made one node more). The stamp is
    replaced by a fixed one, and each node number by its rank among them: the same
    length, so every offset stays valid, and the same order, in which the ID tree
    lists them."""
    pdf = _PDF_DATES.sub(lambda m: b"/" + m.group(1) + b" (D:20000101000000", pdf)
    ranks = {n: b"(node%08d)" % i for i, n in enumerate(sorted(set(_PDF_NODE_IDS.findall(pdf)), key=int))}
    return _PDF_NODE_IDS.sub(lambda m: ranks[m.group(1)], pdf)


def print_report_pdf(html_path: Path, pdf_path: Path, *, timeout: float = 120.0) -> bool:
    """Print a report page to PDF with headless Chromium; False (and no file) when it cannot.

    The page is opened from disk; Chromium is told not to reach the network
    (the page names nothing outside the site anyway). The PDF is written
    aside and renamed into place, so a failed run leaves no partial file.
    """
    exe = chromium_path()
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path)
    if exe is None or not html_path.is_file():
        return False
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    # Chromium turns every link into an absolute file:// address of the build
    # machine: print a copy without link targets (beside the page, so its
    # stylesheet still loads), so the PDF names no local path and its bytes do
    # not depend on where the site was built.
    page = html_path.with_name(f".print-{html_path.name}")
    page.write_text(_without_link_targets(html_path.read_text(encoding="utf-8")), encoding="utf-8")
    try:
        return _print(exe, page, pdf_path, timeout)
    finally:
        page.unlink(missing_ok=True)


_LINK_TARGET = re.compile(r'(<a\b[^>]*?)\s+(?:href|rel|download)(?:="[^"]*")?(?=[\s>])')


def _without_link_targets(html: str) -> str:
    """Every <a> kept with its text, without href, rel or download."""
    while True:
        out = _LINK_TARGET.sub(r"\1", html)
        if out == html:
            return out
        html = out


def _behind(cmd: list[str]) -> list[str]:
    """`cmd` at a lower priority: the PDF is printed while the run renders the other
    pages, and on a busy machine the run goes first (it waits for the PDF only at the
    end of the build)."""
    nice = shutil.which("nice")
    return [nice, "-n", "10", *cmd] if nice else cmd


def _print(exe: str, html_path: Path, pdf_path: Path, timeout: float) -> bool:
    with tempfile.TemporaryDirectory(prefix="par-pdf-") as tmp:
        out = Path(tmp) / "report.pdf"
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--no-pdf-header-footer",
            "--run-all-compositor-stages-before-draw",
            f"--print-to-pdf={out}",
            html_path.as_uri(),
        ]
        try:
            subprocess.run(_behind(cmd), check=True, timeout=timeout, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            return False
        if not out.is_file() or out.stat().st_size == 0 or not out.read_bytes()[:5] == b"%PDF-":
            return False
        tmp_target = pdf_path.with_name(f".{pdf_path.name}.tmp")
        tmp_target.write_bytes(_reproducible(out.read_bytes()))
        os.chmod(tmp_target, 0o644)
        os.replace(tmp_target, pdf_path)
    return True
