"""Printable QR codes that open the resident report page preset to a village."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

SIDE = 600  # pixels: sharp on an A5 poster at 150 dpi
# Where Debian and most Linux distributions keep a Simplified Chinese font. Without one the
# code prints alone; the printable page names the village in HTML anyway.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


def qr_code(url: str) -> segno.QRCode:
    # Level M survives a scuffed or rained-on poster and keeps the code coarse enough for old phones.
    return segno.make(url, error="m", micro=False)


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | None:
    for path in CJK_FONTS:
        if not Path(path).is_file():
            continue
        # A .ttc holds the Japanese, Korean and Chinese cuts: take the Simplified Chinese one.
        for index in range(10):
            try:
                font = ImageFont.truetype(path, size, index=index)
            except OSError:
                break
            if "SC" in font.getname()[0] or "Micro Hei" in font.getname()[0] or "Zen Hei" in font.getname()[0]:
                return font
    return None


def village_png(url: str, caption: str | None = None) -> bytes:
    """The code for `url`, SIDE pixels wide, with `caption` printed under it when a font exists."""
    code = qr_code(url)
    border = 4  # the quiet zone scanners need
    modules = code.symbol_size(scale=1, border=border)[0]
    scale = max(1, SIDE // modules)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=border)
    symbol = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    font = _font(34) if caption else None
    text_height = 64 if font is not None else 0
    canvas = Image.new("L", (SIDE, SIDE + text_height), 255)
    canvas.paste(symbol, ((SIDE - symbol.width) // 2, (SIDE - symbol.height) // 2))
    if font is not None and caption:
        draw = ImageDraw.Draw(canvas)
        draw.text((SIDE // 2, SIDE + 8), caption, fill=0, font=font, anchor="ma")
    out = io.BytesIO()
    canvas.save(out, "PNG", optimize=True)
    return out.getvalue()
