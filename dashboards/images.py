"""Charts as image files, and the monthly report as PDF.

Images are rendered at build time with vl-convert (no browser, no network):
`charts/<name>.svg` and `.png`, for the overview and the latest month's
charts only. Each file carries a fingerprint of the spec and of the renderer,
so a build whose charts did not change renders nothing.

The PDF needs Chromium; without it `print_report_pdf` returns False.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

from dashboards.publish import write_if_changed

_MARK = "par-chart"


def _fingerprint(spec: dict, vl_version: str, format_locale: dict | None, scale: float) -> str:
    import vl_convert as vlc

    h = hashlib.sha256()
    h.update(f"{vlc.__version__} {vl_version} {scale}\n".encode())
    h.update(json.dumps([spec, format_locale], sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()[:32]


def _png_text_chunk(png: bytes, key: str, value: str) -> bytes:
    """The PNG with a tEXt chunk `key`=`value` after its header chunk."""
    data = key.encode("latin-1") + b"\0" + value.encode("latin-1")
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data) & 0xFFFFFFFF)
    ihdr_end = 8 + 4 + 4 + 13 + 4  # signature, then IHDR's length, type, 13 bytes of data, crc
    return png[:ihdr_end] + chunk + png[ihdr_end:]


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


def _has_mark(path: Path, mark: bytes, head: int = 4096) -> bool:
    try:
        with open(path, "rb") as fh:
            return mark in fh.read(head)
    except OSError:
        return False


def write_chart_images(folder: Path, name: str, spec: dict, *, vl_version: str,
                       format_locale: dict | None = None, scale: float = 2.0) -> list[Path]:
    """`<folder>/<name>.svg` and `.png` (at `scale` × the chart's size) of a
    self-contained Vega-Lite spec.

    Skipped when both files already carry this spec's fingerprint.
    """
    import vl_convert as vlc

    folder = Path(folder)
    svg_path, png_path = folder / f"{name}.svg", folder / f"{name}.png"
    fp = _fingerprint(spec, vl_version, format_locale, scale)
    svg_mark = f"<!-- {_MARK} {fp} -->".encode()
    png_mark = f"{_MARK}\0{fp}".encode()
    if _has_mark(svg_path, svg_mark, 256) and _has_mark(png_path, png_mark, 256):
        return [svg_path, png_path]
    cached = _RENDERED.get(fp)
    if cached is None:
        kw = {"vl_version": vl_version}
        if format_locale:
            kw["format_locale"] = format_locale
        svg = stable_ids(vlc.vegalite_to_svg(spec, **kw))
        cached = (svg_mark + b"\n" + svg.encode("utf-8"), _png_text_chunk(vlc.svg_to_png(svg, scale=scale), _MARK, fp))
        if len(_RENDERED) >= 32:
            _RENDERED.pop(next(iter(_RENDERED)))
        _RENDERED[fp] = cached
    write_if_changed(svg_path, cached[0])
    write_if_changed(png_path, cached[1])
    return [svg_path, png_path]


# Images rendered in this process, by fingerprint (a build into a fresh folder
# need not render what the previous build just did).
_RENDERED: dict[str, tuple[bytes, bytes]] = {}


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


def _without_print_time(pdf: bytes) -> bytes:
    """Chromium stamps the time of printing; the same page must give the same bytes.
    The stamp is replaced by one of the same length, so every offset stays valid."""
    return _PDF_DATES.sub(lambda m: b"/" + m.group(1) + b" (D:20000101000000", pdf)


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
            subprocess.run(cmd, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            return False
        if not out.is_file() or out.stat().st_size == 0 or not out.read_bytes()[:5] == b"%PDF-":
            return False
        tmp_target = pdf_path.with_name(f".{pdf_path.name}.tmp")
        tmp_target.write_bytes(_without_print_time(out.read_bytes()))
        os.chmod(tmp_target, 0o644)
        os.replace(tmp_target, pdf_path)
    return True
