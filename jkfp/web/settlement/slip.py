"""结算单 PDF The discharge slip as a PDF (WeasyPrint, CJK font from Debian ``fonts-noto-cjk``).

The slip's HTML is rendered from ``web/settlement/slip_document.html`` (the same body partial as the
printable page); WeasyPrint lays it out on A4 with the CJK font that jkfp.core.fonts finds (shipped by the release
bundle, or Debian's ``fonts-noto-cjk``). No network access: the document names no other resource.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from jkfp.core.fonts import FAMILY, cjk_font_css

# The CJK face the slip asks for (jkfp.core.fonts finds its file); WeasyPrint subsets and embeds it.
SLIP_FONT_FAMILY = FAMILY
SLIP_CSS = f"""
@page {{ size: A4; margin: 14mm 12mm; }}
body {{ font-family: "{SLIP_FONT_FAMILY}", sans-serif; font-size: 10pt; color: #000; }}
h1 {{ font-size: 15pt; text-align: center; margin: 0 0 4mm; }}
table {{ width: 100%; border-collapse: collapse; margin-bottom: 4mm; }}
th, td {{ border: 0.5pt solid #444; padding: 1.2mm 2mm; text-align: left; vertical-align: top; }}
td.amount, th.amount {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.personal td {{ font-weight: bold; }}
.trace {{ font-size: 8pt; white-space: pre-wrap; }}
.muted {{ color: #555; font-size: 8.5pt; }}
"""


def slip_html(context: dict[str, Any]) -> str:
    """结算单 HTML The standalone slip document (inline CSS; the only file it names is the local font)."""
    return render_to_string(
        "web/settlement/slip_document.html", {**context, "slip_css": cjk_font_css() + SLIP_CSS}
    )


def slip_pdf(context: dict[str, Any]) -> bytes:
    """结算单 PDF Render the slip of ``context`` (as the slip page builds it) to PDF bytes."""
    from weasyprint import HTML  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    return bytes(HTML(string=slip_html(context)).write_pdf())


def slip_layout_text(context: dict[str, Any]) -> list[str]:
    """排版文字 The text runs WeasyPrint laid out on the slip's pages (what the PDF shows)."""
    from weasyprint import HTML  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    document = HTML(string=slip_html(context)).render()
    texts: list[str] = []

    def walk(box: Any) -> None:
        text = getattr(box, "text", None)
        if isinstance(text, str) and text:
            texts.append(text)
        for child in getattr(box, "children", None) or ():
            walk(child)

    for page in document.pages:
        walk(page._page_box)
    return texts
