"""中文字体 PDFs show their Chinese on a machine whose fontconfig knows no CJK font (issue 15 §9).

The renderer runs in a subprocess whose fontconfig sees only DejaVu (``FONTCONFIG_FILE``), as on a
server without ``fonts-noto-cjk``; the font file is given as the release bundle gives it. The PDF must
embed that font; without ``cjk_font_css`` the same text falls back to DejaVu (no Chinese glyphs).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.template.loader import render_to_string

from jkfp.core.fonts import FAMILY, SYSTEM_FONTS, cjk_font_css, cjk_font_path
from jkfp.web.settlement.slip import SLIP_CSS, slip_html

RENDER = """
import os, re, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "jkfp.settings"
import django; django.setup()
from weasyprint import HTML
from jkfp.core.fonts import cjk_font_css
css = cjk_font_css() if sys.argv[1] == "with" else ""
html = f'<html><head><style>{css} body {{ font-family: "JKFP CJK", sans-serif; }}</style></head><body>结算单 张三 个人自付</body></html>'
pdf = HTML(string=html).write_pdf(uncompressed_pdf=True)
print(sorted(n.decode() for n in set(re.findall(rb"/BaseFont\\s*/([A-Za-z0-9+_-]+)", pdf))))
"""


def _render(tmp_path: Path, mode: str) -> str:
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f"<dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>{tmp_path}/cache</cachedir></fontconfig>"
    )
    font = next(p for p in SYSTEM_FONTS if Path(p).is_file())  # stands for the bundle's font file
    env = {**os.environ, "FONTCONFIG_FILE": str(conf), "JKFP_CJK_FONT": font, "JKFP_HOME": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", RENDER, mode], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_pdf_embeds_the_cjk_font_without_system_fonts(tmp_path: Path) -> None:
    fonts = _render(tmp_path, "with")
    assert re.search(r"\+JKFP-CJK'", fonts), fonts
    without = _render(tmp_path, "without")
    assert "DejaVu" in without and "CJK" not in without, "the control: no CJK font is visible to fontconfig"


def test_slips_and_cards_name_the_font_file() -> None:
    path = cjk_font_path()
    assert path is not None and path.is_file()
    css = cjk_font_css()
    assert path.as_uri() in css and f'font-family: "{FAMILY}"' in css
    assert css + SLIP_CSS in slip_html({})
    cards = render_to_string("web/care/cards_pdf.html", {"cards": [], "village": None, "font_css": css})
    assert css in cards and f'"{FAMILY}"' in cards


def test_the_system_check_fails_loudly_without_a_font(settings: pytest.FixtureRequest) -> None:
    settings.CJK_FONT = "/nonexistent/font.otf"  # type: ignore[attr-defined]
    with pytest.raises(SystemCheckError, match=r"jkfp\.E001"):
        call_command("check")
