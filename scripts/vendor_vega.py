"""Vendor the Vega + Vega-Lite + vega-embed bundle for offline pages.

Run after upgrading vl-convert-python or Altair:  .venv/bin/python scripts/vendor_vega.py
"""

from dashboards.vega import vendor_bundle

if __name__ == "__main__":
    path = vendor_bundle()
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
