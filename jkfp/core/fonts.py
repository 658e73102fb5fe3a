"""中文字体 The CJK font of the PDFs (discharge slips, contact cards), found on any machine.

WeasyPrint draws a character only with a font that has it: on a machine without Chinese fonts every
Chinese character of a slip would silently vanish. So the PDFs name the font by file
(``cjk_font_css``) and a system check fails loudly when none is found. Where it is looked for:

1. ``JKFP_CJK_FONT`` (settings.CJK_FONT), a font file;
2. ``<prefix>/share/jkfp/fonts/`` of the installation — the release bundle ships Noto Sans CJK SC there;
3. the usual system places (Debian/Ubuntu ``fonts-noto-cjk``, RHEL ``google-noto-sans-cjk``, WenQuanYi);
4. any font fontconfig lists for Chinese (``fc-list :lang=zh``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

FAMILY = "JKFP CJK"
SYSTEM_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-sans-cjk-fonts/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
FONT_SUFFIXES = (".otf", ".ttf", ".ttc")


def bundled_font_dir() -> Path:
    """Where install.sh of the release bundle puts the shipped font."""
    return Path(sys.prefix) / "share" / "jkfp" / "fonts"


def _fontconfig_cjk() -> Path | None:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    listed = subprocess.run([fc_list, ":lang=zh", "file"], capture_output=True, text=True, check=False)
    for line in sorted(listed.stdout.splitlines()):
        path = Path(line.split(":", 1)[0].strip())
        if path.suffix.lower() in FONT_SUFFIXES and path.is_file():
            return path
    return None


def cjk_font_path() -> Path | None:
    """中文字体文件 The CJK font file the PDFs use, or None when the machine has none."""
    configured = str(getattr(settings, "CJK_FONT", "") or "")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    bundled = bundled_font_dir()
    if bundled.is_dir():
        found = sorted(p for p in bundled.iterdir() if p.suffix.lower() in FONT_SUFFIXES)
        if found:
            return found[0]
    for candidate in SYSTEM_FONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    return _fontconfig_cjk()


def cjk_font_css() -> str:
    """``@font-face`` of ``FAMILY``: the installed Simplified-Chinese face first, else the file itself."""
    path = cjk_font_path()
    source = f'local("Noto Sans CJK SC"), url("{path.as_uri()}")' if path else 'local("Noto Sans CJK SC")'
    return f'@font-face {{ font-family: "{FAMILY}"; src: {source}; }}'


@register()
def check_cjk_font(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    """系统检查 No CJK font → an error: PDFs would lose every Chinese character."""
    if cjk_font_path() is not None:
        return []
    configured = str(getattr(settings, "CJK_FONT", "") or "")
    return [
        Error(
            f"找不到中文字体：PDF（结算单、联系卡）中的汉字将无法显示{'（JKFP_CJK_FONT=' + configured + ' 不存在）' if configured else ''}。"
            " / No CJK font found: the PDFs would lose every Chinese character.",
            hint="用发布包安装（自带字体），或安装 fonts-noto-cjk，或设置 JKFP_CJK_FONT=字体文件 / install from the "
            "release bundle (it ships a font), install fonts-noto-cjk, or set JKFP_CJK_FONT to a font file",
            id="jkfp.E001",
        )
    ]
