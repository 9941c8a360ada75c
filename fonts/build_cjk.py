"""Rebuild the Korean (fonts/ko), Chinese (fonts/zh) and Traditional Chinese (fonts/zh-Hant)
fonts from their Debian packages.

Maintainers only: users get the built files with the repository. Needs fontTools
(`pip install fonttools`) and the unpacked Debian packages (`apt-get download fonts-noto-cjk
fonts-nanum fonts-wqy-microhei fonts-lxgw-wenkai fonts-cwtex-heib fonts-cwtex-kai`, then
`dpkg-deb -x PACKAGE.deb DIR` for each)
under one folder:

    python fonts/build_cjk.py DIR

Noto Sans/Serif CJK (OFL) and WenQuanYi Micro Hei (Apache-2.0) are subset to the characters
listed below, which keeps fonts/ small enough to travel; their names are kept (the Noto CJK
fonts' reserved font name is "Source", which they do not carry). The Nanum fonts (OFL, reserved
font names "Nanum...") are copied unmodified, as their license requires for the name. LXGW
WenKai (OFL, reserved font names "LXGW" and "霞鹜") is subset and renamed "Ocrpipe Kai".
cwTeX HeiBold and cwTeX Kai (GPL-2+, no reserved names) are subset like WenQuanYi Micro Hei.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from pipeline.text.codes_cjk import BIG5_LEVEL1, GB2312_LEVEL1  # noqa: E402


def common() -> set[int]:
    """Latin, digits and the punctuation mixed lines need, CJK and full-width punctuation."""
    chars = set(range(0x20, 0x7F)) | set(range(0xA0, 0x100))
    chars |= set(range(0x2010, 0x2028)) | set(range(0x2030, 0x203B)) | {0x20A9, 0x20AC, 0x2103, 0x2116, 0x2122}
    chars |= set(range(0x2460, 0x2474)) | set(range(0x2190, 0x2194)) | {0x203B, 0x25A0, 0x25A1, 0x25CB, 0x25CF}
    chars |= set(range(0x3000, 0x3040)) | set(range(0xFF01, 0xFF5F)) | set(range(0xFFE0, 0xFFE7))
    return chars


KOREAN = set(range(0xAC00, 0xD7A4)) | set(range(0x3131, 0x318F))    # all 11,172 syllables + jamo
CHINESE = set(map(ord, GB2312_LEVEL1))                                 # GB2312 level 1: 3,755
TRADITIONAL = set(map(ord, BIG5_LEVEL1))                               # Big5 level 1: 5,401

SUBSETS = {  # output file: (package path, index in the collection, characters)
    "ko/NotoSansCJKkr-Regular.otf": ("opentype/noto/NotoSansCJK-Regular.ttc", 1, KOREAN),
    "ko/NotoSansCJKkr-Bold.otf": ("opentype/noto/NotoSansCJK-Bold.ttc", 1, KOREAN),
    "ko/NotoSerifCJKkr-Regular.otf": ("opentype/noto/NotoSerifCJK-Regular.ttc", 1, KOREAN),
    "zh/NotoSansCJKsc-Regular.otf": ("opentype/noto/NotoSansCJK-Regular.ttc", 2, CHINESE),
    "zh/NotoSerifCJKsc-Regular.otf": ("opentype/noto/NotoSerifCJK-Regular.ttc", 2, CHINESE),
    "zh/wqy-microhei-subset.ttf": ("truetype/wqy/wqy-microhei.ttc", 0, CHINESE),
    "zh/OcrpipeKai-Regular.ttf": ("truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf", 0, CHINESE),
    "zh-Hant/wqy-microhei-big5.ttf": ("truetype/wqy/wqy-microhei.ttc", 0, TRADITIONAL),
    "zh-Hant/cwTeXHeiBold-big5.ttf": ("truetype/cwtex/cwheib.ttf", 0, TRADITIONAL),
    "zh-Hant/cwTeXKai-big5.ttf": ("truetype/cwtex/cwkai.ttf", 0, TRADITIONAL),
}
# LXGW WenKai's reserved font names ("LXGW", "霞鹜") may not name a modified version: the subset
# is renamed (OFL 1.1, condition 3).
RENAMED = {"zh/OcrpipeKai-Regular.ttf": "Ocrpipe Kai"}
COPIES = {"ko/NanumSquareRoundR.ttf": "truetype/nanum/NanumSquareRoundR.ttf",
          "ko/NanumSquare_acR.ttf": "truetype/nanum/NanumSquare_acR.ttf"}


def rename(font: object, family: str) -> None:
    """Give a font new family, full and PostScript names (every platform and language)."""
    names = font["name"]  # type: ignore[index]
    style = names.getDebugName(2) or "Regular"
    new = {1: family, 3: f"{family} {style}; subset", 4: f"{family} {style}",
           6: f"{family.replace(' ', '')}-{style.replace(' ', '')}", 16: family, 17: style}
    for record in list(names.names):
        if record.nameID in new:
            record.string = new[record.nameID]
        elif record.nameID in (18, 21, 22):
            names.names.remove(record)


def main(unpacked: Path) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    fonts = unpacked / "usr" / "share" / "fonts"
    for out, (source, index, chars) in SUBSETS.items():
        (HERE / out).parent.mkdir(exist_ok=True)
        font = TTFont(fonts / source, fontNumber=index, lazy=False)
        options = subset.Options()
        options.layout_features = ["*"]          # keep vert/vrt2 (vertical forms) and the rest
        options.name_IDs = ["*"]
        options.name_languages = ["*"]
        options.notdef_outline = True
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(chars | common()))
        subsetter.subset(font)
        if out in RENAMED:
            rename(font, RENAMED[out])
        font.save(HERE / out)
        print(f"{out}: {(HERE / out).stat().st_size / 1e6:.1f} MB")
    for out, source in COPIES.items():
        shutil.copyfile(fonts / source, HERE / out)
        print(f"{out}: {(HERE / out).stat().st_size / 1e6:.1f} MB (unmodified)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
