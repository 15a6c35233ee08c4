"""One card = one self-contained HTML file: styles inline, and scripts inline only when needed.

The Vega scripts (vega, vega-lite, vega-embed: minified UMD builds, BSD-3-Clause, licence files
beside them in ``static/``) are ~850 KB, so a card carries them only when it holds a VegaChart.
Nothing is ever loaded from the network: a card opens the same offline, from a file or a server.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path

VEGA_FILES = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
STATIC_DIR = Path(__file__).resolve().parent / "static"  # package data (pyproject.toml)

STYLE = """
:root{color-scheme:light;--ink:#1f2937;--muted:#5b6577;--line:#dde2ea;--bg:#fff;--soft:#f4f6fa;
--accent:#2563eb;--bad:#b42318}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid
var(--line);padding-bottom:4px}h4{margin:8px 0 4px}
.hw-note{color:var(--muted);font-size:12px;margin:4px 0}
.hw-facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}
.hw-facts dt{color:var(--muted)}.hw-facts dd{margin:0;font-family:ui-monospace,monospace}
.hw-status-failed{color:var(--bad);font-weight:600}.hw-status-succeeded{color:#067647;font-weight:600}
.hw-table{border-collapse:collapse;margin:6px 0;font-size:13px;max-width:100%}
.hw-table th,.hw-table td{border:1px solid var(--line);padding:4px 8px;text-align:left;
vertical-align:top}
.hw-table th{background:var(--soft)}
pre,.hw-code{background:var(--soft);padding:8px 10px;border-radius:6px;overflow:auto;
font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace;white-space:pre-wrap;
word-break:break-word;margin:6px 0}
.hw-value{font-family:ui-monospace,monospace;white-space:pre-wrap}
.hw-component{margin:12px 0}
.hw-image img{max-width:100%;height:auto}.hw-image{margin:8px 0}
.hw-image figcaption{color:var(--muted);font-size:12px}
.hw-error{border:1px solid #f1b5ae;background:#fff4f2;border-radius:6px;padding:8px 12px}
.hw-error strong{color:var(--bad)}
.hw-progress{display:flex;gap:10px;align-items:center}.hw-progress progress{width:260px}
.hw-valuebox{display:inline-block;min-width:160px;border:1px solid var(--line);border-radius:8px;
padding:10px 14px;margin:4px 8px 4px 0}
.hw-vb-title{color:var(--muted);font-size:12px}.hw-vb-value{font-size:26px;font-weight:600}
.hw-theme-success{border-color:#75e0a7}.hw-theme-warning{border-color:#fec84b}
.hw-theme-danger{border-color:#fda29b}
.hw-dag{max-width:100%;height:auto;font-family:system-ui,sans-serif}
.hw-artifacts details{margin:4px 0}.hw-artifacts summary{cursor:pointer}
.hw-artifacts summary code{font-weight:600}
.hw-markdown table{border-collapse:collapse}.hw-markdown td,.hw-markdown th{border:1px solid
var(--line);padding:3px 8px}
"""

# Draw every chart of the page; a chart that fails shows its error in place of the picture.
# The bundled Vega-Lite (v6) draws specs written for v5 (Metaflow's examples and most users'
# `$schema`) unchanged, yet vega-embed warns in the console for each: that one warning is dropped,
# every other goes on to the console.
VEGA_BOOT = """
var hwLog = vega.logger(vega.Warn), hwWarn = hwLog.warn;
hwLog.warn = function (first) {
  if (/^The input spec uses Vega(-Lite)? v5[.0-9]*, but the current version/.test(String(first))) return hwLog;
  return hwWarn.apply(hwLog, arguments);
};
document.querySelectorAll('.hw-vega').forEach(function (box) {
  var target = box.querySelector('.hw-vega-target');
  var spec = JSON.parse(box.querySelector('.hw-vega-spec').textContent);
  vegaEmbed(target, spec, {actions: false, renderer: 'svg', logger: hwLog}).then(function () {
    box.setAttribute('data-drawn', 'true');
  }).catch(function (err) {
    target.textContent = 'chart error: ' + err;
    box.setAttribute('data-drawn', 'error');
  });
});
"""


@cache
def _static(name: str) -> str:
    text = (STATIC_DIR / name).read_text("utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("//# sourceMappingURL=")]
    return "\n".join(lines).replace("</script", "<\\/script")


def scripts_for(needs: frozenset[str] | set[str]) -> str:
    """The ``<script>`` elements a card's components need, inlined."""
    if "vega" not in needs:
        return ""
    libs = "".join(f"<script>{_static(name)}</script>" for name in VEGA_FILES)
    return f"{libs}<script>{VEGA_BOOT}</script>"


def html_page(title: str, body: str, needs: frozenset[str] | set[str] = frozenset(),
              *, card_type: str = "", card_id: str | None = None) -> str:
    """A complete HTML document around ``body`` (already escaped HTML)."""
    attrs = f' data-card-type="{html.escape(card_type, quote=True)}"'
    if card_id:
        attrs += f' data-card-id="{html.escape(card_id, quote=True)}"'
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="headwater">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body{attrs}><main>{body}</main>{scripts_for(needs)}</body></html>\n"
    )
