"""More typefaces, installed from Debian's package archive and the npm registry on request.

`fonts/ko`, `fonts/zh` and `fonts/zh-Hant` hold four, four and three families: enough for the
demos, too few to teach a model the shapes of the faces people meet (brush, handwriting,
myeongjo/song, kai, fangsong, rounded, display). For English, `fonts/` holds 18 print families;
`en` adds 26 more book, screen and programming families (serif, sans, mono) to widen what a
model has seen of print. The full faces are 1 to 21 MB each, too large
to keep in the repository, so `ocrpipe fonts install LANG` fetches the Debian packages that
ship them (pinned versions, checked against their SHA-256), and copies the chosen faces, one
face of a collection (.ttc) as its own file, with each package's copyright file, into
`fonts/more/LANG/<class>/` (the design class: gothic, myeongjo, brush, song, kai, ...; for
Traditional Chinese also `mainland`, faces made for simplified Chinese print that draw
Traditional characters too). The glyphs are not changed.

Debian packages few typefaces beyond these; the Google Fonts library has hundreds of families
under the SIL OFL (book and web print faces, Korean calligraphic myeongjo, brush and
handwriting faces). Fontsource publishes them on the npm registry, one package per family,
each face as WOFF files of one script's characters (`latin`: Latin-1 and the general
punctuation; `korean`: every KS X 1001 syllable and ASCII). `fonts install en` and `ko` fetch
those packages too (pinned like the Debian ones), unwrap the chosen WOFF files into plain
TrueType files (the same tables, uncompressed) and put them in `fonts/more/LANG/fontsource/
<class>/`, with each package's license file; the Debian faces' class folders stay as they
were, so a recipe that names them draws the same faces. `--fonts ko-more` names them all; a
class folder can be given (or left out) on its own.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipeline.errors import OcrpipeError
from pipeline.utils.files import atomic_write_bytes

ARCHIVE = "http://deb.debian.org/debian/pool/main/"
NPM = "https://registry.npmjs.org/"


@dataclass(frozen=True)
class Package:
    name: str           # Debian package, or npm package (@fontsource/<family>)
    path: str           # under `archive`: a .deb in its source package's folder, or an npm tarball
    sha256: str
    license: str
    archive: str = ARCHIVE      # Debian's pool, or NPM

    @property
    def url(self) -> str:
        return self.archive + self.path

    @property
    def license_member(self) -> str:
        """The package's copyright or license file, as `members` names it."""
        return "package/LICENSE" if self.archive == NPM else f"usr/share/doc/{self.name}/copyright"

    @property
    def license_file(self) -> str:
        """Its name under fonts/more/LANG/LICENSES/."""
        return self.name.removeprefix("@").replace("/", "-") + ".copyright"


@dataclass(frozen=True)
class Face:
    lang: str           # the set it joins: fonts/more/<lang>
    kind: str           # design class: its folder
    package: str
    member: str         # the file inside the package
    output: str         # file name written
    index: int = -1     # face of a .ttc collection (-1: a single-face file, copied as it is)


PACKAGES = {p.name: p for p in (
    Package("fonts-nanum", "f/fonts-nanum/fonts-nanum_20200506-1_all.deb",
            "5e86c346e6485b694e1f0ebd27132892fcf014d1b975de4fd21d1654ddf37043", "SIL OFL 1.1"),
    Package("fonts-nanum-extra", "f/fonts-nanum/fonts-nanum-extra_20200506-1_all.deb",
            "05ee7f37582df6a9cec4b259e58d1ca7919bf8c6c3c6502959639a7e51411559", "SIL OFL 1.1"),
    Package("fonts-unfonts-core", "f/fonts-unfonts-core/fonts-unfonts-core_1.0.2-080608-18_all.deb",
            "aa3674928f81920dff1705f9948d29ff86e73f56500a55ba00f093d2f724c7bb", "GPL-2+"),
    Package("fonts-unfonts-extra", "f/fonts-unfonts-extra/fonts-unfonts-extra_1.0.2-080608+dfsg-11_all.deb",
            "2b86a0ac83702e7d5d2bf4739926110fcbaf871f1671261a31a990367155bd5f", "GPL-2+"),
    Package("fonts-alee", "f/fonts-alee/fonts-alee_13.3_all.deb",
            "9d38eb6c2ff02864035d56d89a398288371891d2e7e20fb909f9ef18c0a23c54", "Artistic"),
    Package("fonts-woowa-bm", "f/fonts-woowa-bm/fonts-woowa-bm_20211009-2_all.deb",
            "926b0404d616a0b48c1443ee9077020d720ece1914e6dec09d9435ff0ea68fa6", "SIL OFL 1.1"),
    Package("fonts-baekmuk", "f/fonts-baekmuk/fonts-baekmuk_2.2-13_all.deb",
            "19dbd99e597a35c8f63a36b3e880d8f3df61099e1cb92c5744146240fc4bee55", "Baekmuk license (BSD-like)"),
    Package("fonts-arphic-uming", "f/fonts-arphic-uming/fonts-arphic-uming_0.2.20080216.2-11_all.deb",
            "2676b21b90df94f23418610291b71b43720c95cdccb420b97ab56edfd3ce4cf5", "Arphic Public License"),
    Package("fonts-arphic-ukai", "f/fonts-arphic-ukai/fonts-arphic-ukai_0.2.20080216.2-5_all.deb",
            "b9db73184895b067f7911f9adbf3b137df99c2d4ec5425b4ad779a9834b7110b", "Arphic Public License"),
    Package("fonts-arphic-gbsn00lp", "f/fonts-arphic-gbsn00lp/fonts-arphic-gbsn00lp_2.11-16_all.deb",
            "f3d0e32e0c938796f983cf4a9735c31c680c66fcdc3a6107098d5605b51d744b", "Arphic Public License"),
    Package("fonts-arphic-gkai00mp", "f/fonts-arphic-gkai00mp/fonts-arphic-gkai00mp_2.11-16_all.deb",
            "7c5452a4f5ce4eb351ceb25ee9ae359c8b094c2fd68955b9c93bd34c315bebf1", "Arphic Public License"),
    Package("fonts-wqy-zenhei", "f/fonts-wqy-zenhei/fonts-wqy-zenhei_0.9.45-8_all.deb",
            "cfed2c29164ff2f133e40ed2046610b172b8618d174840936ac4ec9b6fd668e7",
            "GPL-2 with font embedding exception"),
    Package("fonts-cwtex-ming", "f/fonts-cwtex/fonts-cwtex-ming_1.0-4_all.deb",
            "c6641f5d8d438d4bfa912e06204211b3d81fb167a586d09424922e0de42dac6e", "GPL-2+ with font exception"),
    Package("fonts-cwtex-fs", "f/fonts-cwtex/fonts-cwtex-fs_1.0-4_all.deb",
            "94b4ce9d2fd613e04bcf2e293011ca5099b43d8a8a97c090580fe25d31845850", "GPL-2+ with font exception"),
    Package("fonts-cwtex-yen", "f/fonts-cwtex/fonts-cwtex-yen_1.0-4_all.deb",
            "c400c0c11897adc5d5846833cda6698c2e71f005f0a29f4060cb7b2e0dde8c48", "GPL-2+ with font exception"),
    Package("fonts-linuxlibertine", "f/fonts-linuxlibertine/fonts-linuxlibertine_5.3.0-6_all.deb",
            "5c77471e910189b3e4e2eda2b1c5f549ddcaf4de8f9640b97773643970d29087", "GPL-2 with font exception, SIL OFL 1.1"),
    Package("fonts-ebgaramond", "f/fonts-ebgaramond/fonts-ebgaramond_0.016+git20210310.42d4f9f2-1_all.deb",
            "2780e32df19b909823425b3e21c2f2f2a1717bbdd96f33fc59a252a308903fa2", "SIL OFL 1.1"),
    Package("fonts-freefont-otf", "f/fonts-freefont/fonts-freefont-otf_20120503-10_all.deb",
            "0b63996c80c6c660424af6d3832818e647960d6f65a51de010bb57dd0762faa7", "GPL-3+ with font exception"),
    Package("fonts-crosextra-carlito", "f/fonts-crosextra-carlito/fonts-crosextra-carlito_20220224-1_all.deb",
            "673689e3a887cd150ca5018c26e1a4162709add3a1bdc0a2527af6fd073980d7", "SIL OFL 1.1"),
    Package("fonts-stix", "f/fonts-stix/fonts-stix_1.1.1-4.1_all.deb",
            "d84b45ed9f8d53686e68e36d4442710e8cd13645fdb7f8bd6418354fc336182b", "SIL OFL 1.1"),
    Package("fonts-hack", "f/fonts-hack/fonts-hack_3.003-3_all.deb",
            "ee85559100f4657f7214f23462cf43100d233858f468e3efa0c0a8500f2b7382", "MIT and Bitstream Vera license"),
    Package("fonts-go", "f/fonts-go/fonts-go_0~20170330-1_all.deb",
            "6d1f3b1ee1e3d5a25be14137a5c47a732d4c02f7282ea6babf697a002479aa88", "BSD-3-Clause"),
    Package("fonts-jetbrains-mono", "f/fonts-jetbrains-mono/fonts-jetbrains-mono_2.242+ds-3_all.deb",
            "516b8e3bacc9a30cf615543fa1fdaf0c5312284f2c4459b7838fd008fd9936bc", "Apache 2.0"),
    Package("fonts-firacode", "f/fonts-firacode/fonts-firacode_6.2-2_all.deb",
            "a69952a1556e7635d029b35dbc903593a3b78cbd39d3899bf0c4fdfbc8d55245", "SIL OFL 1.1"),
    Package("fonts-sil-charis", "f/fonts-sil-charis/fonts-sil-charis_6.101-1_all.deb",
            "bc1a774ed29af7be47aea74b0afbcffb1e379c9e61e3f322ccf60c9325ff88af", "SIL OFL 1.1"),
    Package("fonts-sil-gentiumplus", "f/fonts-sil-gentiumplus/fonts-sil-gentiumplus_6.101-1_all.deb",
            "9b05c3ca056bbbdff263ca0cbd7a1b0e2047d556e47e24d1182800413b5d511b", "SIL OFL 1.1"),
    Package("fonts-sil-andika", "f/fonts-sil-andika/fonts-sil-andika_6.101-2_all.deb",
            "c8bf1fa578f14feb3f6043ceba44095355eb385642f111e35623937e5c90d735", "SIL OFL 1.1"),
    Package("fonts-vollkorn", "f/fonts-vollkorn/fonts-vollkorn_4.105-2_all.deb",
            "0c7039de3ede6c96727829635c5b10a536114029cbddf98e14716578d936307f", "SIL OFL 1.1"),
    Package("fonts-oldstandard", "f/fonts-oldstandard/fonts-oldstandard_2.2really-4_all.deb",
            "c8c240cf91654f9ae5357b123436612c05820259dd5569f1c090185cb2ec1fdd", "SIL OFL 1.1"),
    Package("fonts-cmu", "f/fonts-cmu/fonts-cmu_0.7.0-5_all.deb",
            "1bb92b7040b2737740cb77d0a89a830bf3824a2d20b20f039856b20f8349804d", "SIL OFL 1.1"),
    Package("fonts-paratype", "f/fonts-paratype/fonts-paratype_20181108-3_all.deb",
            "1826b728a79fbb8ed1b6c1ddc240ad6cce39b84c98bb568d8b10f7b7d4f99745", "ParaType Free Font License"),
    Package("fonts-inter", "f/fonts-inter/fonts-inter_4.0~beta7+ds-1_all.deb",
            "6afd9014550e04b58bccf64b94f92ae1dbfd8018489b92de835408970234c24c", "SIL OFL 1.1"),
    Package("fonts-karla", "f/fonts-karla/fonts-karla_20201218-1_all.deb",
            "0bbe3298aed346958c68407995b9084a440aad6263c384abe8547008be598e73", "SIL OFL 1.1"),
    Package("fonts-clear-sans", "c/clear-sans/fonts-clear-sans_1.00-2_all.deb",
            "0684588e6a2b4a33ebeb032c8e4aa76c86d960ae6dc135e2ecc9ef90da83e7c1", "Apache 2.0"),
    Package("fonts-manrope", "f/fonts-manrope/fonts-manrope_4.504+git20201211-2_all.deb",
            "6bba9bc78c721c5b087228e75521fdaabf417999b790119945b2c8b8ab268ace", "SIL OFL 1.1"),
    Package("fonts-tuffy", "f/fonts-tuffy/fonts-tuffy_20120614-2.1_all.deb",
            "e77e30607b5653a109f2e4a6527c43df55c7d7a6c23e77f8734a86110e6cbd08", "public domain"),
    Package("fonts-anonymous-pro", "f/fonts-anonymous-pro/fonts-anonymous-pro_1.003-4_all.deb",
            "4333e24bc646dcfbb6fda3d9c349d753980b3222c9849cfa50ad6d89731c29e3", "SIL OFL 1.1"),
    Package("fonts-noto-cjk", "f/fonts-noto-cjk/fonts-noto-cjk_20220127+repack1-1_all.deb",
            "4a2515eb6db3978b897fef9709ed0d2b1f4c6c4df4d83d6c4ef65f71f1b1f502", "SIL OFL 1.1"),
)}

_NANUM, _UN, _BAEK = "usr/share/fonts/truetype/nanum/", "usr/share/fonts/truetype/unfonts-core/", \
    "usr/share/fonts/truetype/baekmuk/"
_UNX = "usr/share/fonts/truetype/unfonts-extra/"
_ALEE, _WOOWA = "usr/share/fonts/truetype/alee/", "usr/share/fonts/truetype/woowa-bm/"
_ARPHIC, _CWTEX = "usr/share/fonts/truetype/arphic/", "usr/share/fonts/truetype/cwtex/"
_WQY = "usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
_NOTO = "usr/share/fonts/opentype/noto/"
_LIBERTINE, _FREE = "usr/share/fonts/opentype/linux-libertine/", "usr/share/fonts/opentype/freefont/"
_GO = "usr/share/fonts/fonts-go/"
_TRUE = "usr/share/fonts/truetype/"
_CMU, _PT = _TRUE + "cmu/", _TRUE + "paratype/"
_ANON = _TRUE + "anonymous-pro/"


def _files(lang: str, kind: str, package: str, folder: str, names: str) -> list[Face]:
    return [Face(lang, kind, package, folder + name, name) for name in names.split()]


FACES: tuple[Face, ...] = (
    *_files("ko", "gothic", "fonts-nanum", _NANUM, "NanumGothic.ttf NanumGothicBold.ttf NanumBarunGothic.ttf "
            "NanumBarunGothicBold.ttf"),
    *_files("ko", "myeongjo", "fonts-nanum", _NANUM, "NanumMyeongjo.ttf NanumMyeongjoBold.ttf"),
    *_files("ko", "handwriting", "fonts-nanum-extra", _NANUM, "NanumPen.ttf NanumBarunpenR.ttf"),
    *_files("ko", "brush", "fonts-nanum-extra", _NANUM, "NanumBrush.ttf"),
    *_files("ko", "myeongjo", "fonts-unfonts-core", _UN, "UnBatang.ttf UnBatangBold.ttf"),
    *_files("ko", "gothic", "fonts-unfonts-core", _UN, "UnDotum.ttf UnDotumBold.ttf UnGraphic.ttf"),
    *_files("ko", "display", "fonts-unfonts-core", _UN, "UnDinaru.ttf UnDinaruBold.ttf"),
    *_files("ko", "handwriting", "fonts-unfonts-core", _UN, "UnPilgi.ttf"),
    *_files("ko", "brush", "fonts-unfonts-core", _UN, "UnGungseo.ttf"),
    # Pen faces (print, running script, a hand), and a typewriter face: wide-set syllables.
    *_files("ko", "pen", "fonts-unfonts-extra", _UNX, "UnPen.ttf UnPenheulim.ttf UnPilgia.ttf"),
    *_files("ko", "typewriter", "fonts-unfonts-extra", _UNX, "UnTaza.ttf"),
    # Casual hands (felt pen, marker, brush pen) and poster faces (rounded, heavy, retro signs).
    *_files("ko", "casual", "fonts-alee", _ALEE, "Bandal.ttf Bangwool.ttf Eunjin.ttf EunjinNakseo.ttf Guseul.ttf"),
    *_files("ko", "casual", "fonts-woowa-bm", _WOOWA, "BMKIRANGHAERANG-TTF.ttf BMYEONSUNG_ttf.ttf"),
    *_files("ko", "poster", "fonts-woowa-bm", _WOOWA, "BMDOHYEON_ttf.ttf BMHANNAAir_ttf.ttf BMHANNAPro.ttf "
            "BMHANNA_11yrs_ttf.ttf BMJUA_ttf.ttf BMEULJIROTTF.ttf BMEuljiro10yearslater.ttf"),
    *_files("ko", "myeongjo", "fonts-baekmuk", _BAEK, "batang.ttf"),
    *_files("ko", "gothic", "fonts-baekmuk", _BAEK, "dotum.ttf gulim.ttf"),
    *_files("ko", "display", "fonts-baekmuk", _BAEK, "hline.ttf"),
    Face("zh", "song", "fonts-arphic-uming", _ARPHIC + "uming.ttc", "uming-cn.ttf", 0),
    Face("zh", "kai", "fonts-arphic-ukai", _ARPHIC + "ukai.ttc", "ukai-cn.ttf", 0),
    *_files("zh", "song", "fonts-arphic-gbsn00lp", "usr/share/fonts/truetype/arphic-gbsn00lp/", "gbsn00lp.ttf"),
    *_files("zh", "kai", "fonts-arphic-gkai00mp", "usr/share/fonts/truetype/arphic-gkai00mp/", "gkai00mp.ttf"),
    Face("zh", "hei", "fonts-wqy-zenhei", _WQY, "wqy-zenhei.ttf", 0),
    Face("zh", "hei", "fonts-wqy-zenhei", _WQY, "wqy-zenhei-sharp.ttf", 2),
    Face("zh-Hant", "ming", "fonts-arphic-uming", _ARPHIC + "uming.ttc", "uming-tw.ttf", 2),
    Face("zh-Hant", "kai", "fonts-arphic-ukai", _ARPHIC + "ukai.ttc", "ukai-tw.ttf", 2),
    *_files("zh-Hant", "ming", "fonts-cwtex-ming", _CWTEX, "cwming.ttf"),
    *_files("zh-Hant", "fangsong", "fonts-cwtex-fs", _CWTEX, "cwfs.ttf"),
    *_files("zh-Hant", "rounded", "fonts-cwtex-yen", _CWTEX, "cwyen.ttf"),
    Face("zh-Hant", "hei", "fonts-wqy-zenhei", _WQY, "wqy-zenhei.ttf", 0),
    # Faces made for simplified Chinese that draw every Traditional character too, as mainland
    # fonts show Traditional text: punctuation low in the left of its box, the mainland's
    # glyph standard (the Taiwanese faces above centre the punctuation).
    Face("zh-Hant", "mainland", "fonts-noto-cjk", _NOTO + "NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", 2),
    Face("zh-Hant", "mainland", "fonts-noto-cjk", _NOTO + "NotoSerifCJK-Regular.ttc", "NotoSerifCJKsc-Regular.otf", 2),
    # English print beyond fonts/: book serifs, humanist and screen sans faces, programming monospace.
    *_files("en", "serif", "fonts-linuxlibertine", _LIBERTINE, "LinLibertine_R.otf LinLibertine_RB.otf "
            "LinLibertine_RI.otf LinLibertine_RBI.otf"),
    *_files("en", "serif", "fonts-ebgaramond", "usr/share/fonts/opentype/ebgaramond/",
            "EBGaramond12-Regular.otf EBGaramond12-Bold.otf EBGaramond12-Italic.otf"),
    *_files("en", "serif", "fonts-freefont-otf", _FREE, "FreeSerif.otf FreeSerifBold.otf FreeSerifItalic.otf"),
    *_files("en", "serif", "fonts-stix", "usr/share/fonts/opentype/stix-word/",
            "STIX-Regular.otf STIX-Bold.otf STIX-Italic.otf STIX-BoldItalic.otf"),
    *_files("en", "sans", "fonts-linuxlibertine", _LIBERTINE, "LinBiolinum_R.otf LinBiolinum_RB.otf LinBiolinum_RI.otf"),
    *_files("en", "sans", "fonts-freefont-otf", _FREE, "FreeSans.otf FreeSansBold.otf FreeSansOblique.otf"),
    *_files("en", "sans", "fonts-crosextra-carlito", "usr/share/fonts/truetype/crosextra/",
            "Carlito-Regular.ttf Carlito-Bold.ttf Carlito-Italic.ttf Carlito-BoldItalic.ttf"),
    *_files("en", "sans", "fonts-go", _GO, "Go-Regular.ttf Go-Bold.ttf Go-Italic.ttf Go-Medium.ttf"),
    *_files("en", "mono", "fonts-freefont-otf", _FREE, "FreeMono.otf FreeMonoBold.otf"),
    *_files("en", "mono", "fonts-hack", "usr/share/fonts/truetype/hack/", "Hack-Regular.ttf Hack-Bold.ttf Hack-Italic.ttf"),
    *_files("en", "mono", "fonts-go", _GO, "Go-Mono.ttf Go-Mono-Bold.ttf"),
    *_files("en", "mono", "fonts-jetbrains-mono", "usr/share/fonts/truetype/jetbrains-mono/",
            "JetBrainsMono-Regular.ttf JetBrainsMono-Bold.ttf JetBrainsMono-Italic.ttf JetBrainsMono-Light.ttf"),
    *_files("en", "mono", "fonts-firacode", "usr/share/fonts/truetype/firacode/",
            "FiraCode-Regular.ttf FiraCode-Bold.ttf FiraCode-Light.ttf"),
    # More families of print (added for the sixth phase of `en`): old-style, transitional and
    # modern book serifs, the TeX look of papers, grotesque and humanist sans faces, monospace.
    *_files("en", "serif", "fonts-sil-charis", _TRUE + "charis/", "CharisSIL-Regular.ttf CharisSIL-Bold.ttf "
            "CharisSIL-Italic.ttf CharisSIL-BoldItalic.ttf"),
    *_files("en", "serif", "fonts-sil-gentiumplus", _TRUE + "gentiumplus/", "GentiumPlus-Regular.ttf "
            "GentiumPlus-Bold.ttf GentiumPlus-Italic.ttf"),
    *_files("en", "serif", "fonts-vollkorn", _TRUE + "vollkorn/", "Vollkorn-Regular.ttf Vollkorn-Bold.ttf "
            "Vollkorn-Italic.ttf"),
    *_files("en", "serif", "fonts-oldstandard", _TRUE + "fonts-oldstandard/", "OldStandard-Regular.ttf "
            "OldStandard-Bold.ttf OldStandard-Italic.ttf"),
    *_files("en", "serif", "fonts-cmu", _CMU, "cmunrm.ttf cmunbx.ttf cmunti.ttf"),
    *_files("en", "serif", "fonts-paratype", _PT, "PTF55F.ttf PTF75F.ttf PTF56F.ttf"),
    *_files("en", "sans", "fonts-sil-andika", _TRUE + "andika/", "Andika-Regular.ttf Andika-Bold.ttf"),
    *_files("en", "sans", "fonts-inter", "usr/share/fonts/opentype/inter/", "Inter-Regular.otf Inter-Bold.otf "
            "Inter-Italic.otf Inter-Light.otf"),
    *_files("en", "sans", "fonts-karla", _TRUE + "karla/", "Karla-Regular.otf Karla-Bold.otf Karla-Italic.otf"),
    *_files("en", "sans", "fonts-clear-sans", _TRUE + "clear-sans/", "ClearSans-Regular.ttf ClearSans-Bold.ttf "
            "ClearSans-Italic.ttf ClearSans-Light.ttf"),
    *_files("en", "sans", "fonts-manrope", _TRUE + "manrope/", "Manrope-Regular.ttf Manrope-Bold.ttf"),
    *_files("en", "sans", "fonts-tuffy", _TRUE + "tuffy/", "Tuffy.ttf Tuffy_Bold.ttf Tuffy_Italic.ttf"),
    *_files("en", "sans", "fonts-cmu", _CMU, "cmunss.ttf cmunsx.ttf cmunsi.ttf"),
    *_files("en", "sans", "fonts-paratype", _PT, "PTS55F.ttf PTS75F.ttf PTS56F.ttf"),
    *_files("en", "mono", "fonts-cmu", _CMU, "cmuntt.ttf"),
    *_files("en", "mono", "fonts-paratype", _PT, "PTM55F.ttf PTM75F.ttf"),
    Face("en", "mono", "fonts-anonymous-pro", _ANON + "Anonymous Pro.ttf", "AnonymousPro-Regular.ttf"),
    Face("en", "mono", "fonts-anonymous-pro", _ANON + "Anonymous Pro B.ttf", "AnonymousPro-Bold.ttf"),
    Face("en", "mono", "fonts-anonymous-pro", _ANON + "Anonymous Pro I.ttf", "AnonymousPro-Italic.ttf"),
)

# Fontsource packages of Google Fonts families (npm registry): (set, class, family, version,
# faces, SHA-256 of the tarball[, license]); faces r b i k: regular, bold, italic, black.
# English: book, news and screen serifs, slab serifs, grotesque, geometric and humanist sans
# faces, condensed and rounded sans, programming and typewriter monospace. None is of, or drawn
# after, a family benchmarks/english.py holds out (Noto, Cantarell, Inconsolata, Comic Neue).
# Korean: calligraphic myeongjo, brush and handwriting faces (the Debian packages have one brush
# face to train on).
FONTSOURCE: tuple[tuple[str, ...], ...] = (
    # en serif
    ("en", "serif", "merriweather", "5.3.0", "rbi", "348f20a775e50a50b508ab6660771df6905ab2ea695c6c2a8df889c5cceec42f"),
    ("en", "serif", "lora", "5.3.0", "rbi", "3f2e66b0934b8652bb1a37645a9fc3e77e83b5841a09e97174e7bb11e11063c9"),
    ("en", "serif", "libre-baskerville", "5.3.0", "rbi", "5e1a5fe2e28c4269112aa33ff46f80034551d2a9820b2d002afe3305fa8e1ea4"),
    ("en", "serif", "crimson-pro", "5.3.0", "rbi", "e038ef1b4e25471f51bb2c43b326264e1c82198fa0b193120028a4d527360185"),
    ("en", "serif", "source-serif-4", "5.3.1", "rbi", "54b7898afa20cf4b2d807bbf2b5a2f865e28a83db8a5fcc563dafce5ecb5e7c8"),
    ("en", "serif", "spectral", "5.3.0", "rbi", "2f7b38f1b453008e41511f5a1acd2dbd7653f94f48ea60a81ca917566b19949d"),
    ("en", "serif", "alegreya", "5.3.0", "rbi", "8b339fcef25323b402466275bdcc821ad2b4ffada37a9c87ccf196dc38cff667"),
    ("en", "serif", "bitter", "5.3.0", "rbi", "f907568dce71e70601cc2ef3ecd4f72d7721a12dad358d8fb4b58ffb55a72efb"),
    ("en", "serif", "zilla-slab", "5.3.0", "rbi", "b7db2f40f3aaeb44c0e1dfe3da1e5de96d177a674ffe5e5e012c59b6a01e8aab"),
    ("en", "serif", "roboto-slab", "5.3.0", "rb", "45d42c2f30be7fa361c673a297cb75e151e977a57905e449d25875adf97e77f5", "Apache 2.0"),
    ("en", "serif", "literata", "5.3.0", "rbi", "b9335958dc362b0e7e4268098550bc0cb93ab4c68a2db9bc48c67154abbd75c9"),
    ("en", "serif", "ibm-plex-serif", "5.3.0", "rbi", "ec25deb83f3dd0d45646d7e6f26c99ba310f272d9c425008bb9f27a50e2c5d4e"),
    ("en", "serif", "gelasio", "5.3.0", "rbi", "8a8579e2d5be4074764ba3d4336afc3ad4cc1f2e04a0208e5386febf782dfcd7"),
    ("en", "serif", "libre-caslon-text", "5.3.0", "rbi", "0dbd17c7fb3403fb5325bb4ea4bfb2dd74e2180439a67db67ad599e536982a7c"),
    ("en", "serif", "cormorant-garamond", "5.3.0", "rbi", "7b6b3f770ae98dcef57acf5a24af08904cadd14f34beef58cf0248c06ae93cc7"),
    ("en", "serif", "domine", "5.3.0", "rb", "4cca29c4b834e11f6419ba622097fad411938e5b110ddff51260faef6d2565f9"),
    ("en", "serif", "arvo", "5.3.0", "rbi", "619c0fe2044237e0acb68c1b7139c53d2060b5189c789066c8af7960d26ceb53"),
    ("en", "serif", "newsreader", "5.3.0", "rbi", "7f1d2c554aeecf94161c07b45dc99fcea400b2f1293605e27df5d0e64856a024"),
    # en sans
    ("en", "sans", "montserrat", "5.3.0", "rbi", "919dce59bbe45ace8a517c1e9de5076282bfeb97e8aa8f5f2dc989451c14c7cb"),
    ("en", "sans", "raleway", "5.3.0", "rbi", "d5dc5cb4563286e45c5b832b0718fa36d84148405cf6f5d1903615a74d253ea8"),
    ("en", "sans", "poppins", "5.3.0", "rbi", "f4779bb12acaaa07dc7dd8da82ab0f61515fea2f30664535f7a249eeb0dd5bcf"),
    ("en", "sans", "nunito", "5.3.0", "rbi", "4d8e1fb4f4a40c125c7a302b21e5c6810b86569b60bac0fa0405c04380f4c77b"),
    ("en", "sans", "work-sans", "5.3.0", "rbi", "b1b1c5a7d7ae2a721e0a9235bfa294281d161a20934e9ede01e0aec2bdb2373a"),
    ("en", "sans", "source-sans-3", "5.3.1", "rbi", "b598201d980b3512805bbea186aab8ef91590d59990e6a13c90e030b6ff37881"),
    ("en", "sans", "ibm-plex-sans", "5.3.0", "rbi", "232592af20ae413026cc705fc9c104135fb760432fd710f06a02c39e062d3213"),
    ("en", "sans", "fira-sans", "5.3.0", "rbi", "2231966721c4c3f70194c336dd11428e15139bd902cac415528715028c9cd5a9"),
    ("en", "sans", "rubik", "5.3.0", "rbi", "3f34e5588fcd07e01f1a5d667e5df1a6b287aeefba5b6e46f892131009a0db6a"),
    ("en", "sans", "barlow", "5.3.0", "rbi", "8ad808291f807367d10eadf915791608bd04cc393882e7e86e290daeeadd843c"),
    ("en", "sans", "dm-sans", "5.3.0", "rbi", "48109b74c1a2758ce0274766b877132f023fde5325911f7172c43a5d4b5d8c7a"),
    ("en", "sans", "archivo", "5.3.0", "rbi", "d3b7622d8446bf81dc31ac49f2e305a6d6439a92971f8116abde2e9792f5c440"),
    ("en", "sans", "public-sans", "5.3.0", "rbi", "006a55fc01a1f03fd56ade9d2d0f80f0eef7e20a085cd9c8ba2463a361cbefcb"),
    ("en", "sans", "libre-franklin", "5.3.0", "rbi", "8c2f1a01cf1d38fc38da4818248e699d22a069ad947f319c5cbacec4a5bb01c7"),
    ("en", "sans", "oswald", "5.3.0", "rb", "27bf46420288bb65bd186638cde54686aa8f9d5dc975b1d597dfe81a7dd472cb"),
    ("en", "sans", "titillium-web", "5.3.0", "rbi", "5fc8c4f850e693046d88a7a4a34236aaadae6713b79547cb5680ff3c2e08b45b"),
    ("en", "sans", "josefin-sans", "5.3.0", "rbi", "a89f83ae9d414f027af83546b84e09ac81e960024dfdeea3bcb491e8ed52a962"),
    ("en", "sans", "quicksand", "5.3.0", "rb", "237b3cc84bf92c235e17f11fcb54e8a889efeaed9a7bff4bacce8cb422e0a403"),
    ("en", "sans", "atkinson-hyperlegible", "5.3.0", "rbi", "6c22186d05f555e1ebf58431ef2c154445e64b760e381c483a56a0a0c5dc2d43"),
    ("en", "sans", "lexend", "5.3.0", "rb", "177823a5ee0766cc0a258ebce0e439587b49552180760931b07c44be66517826"),
    ("en", "sans", "figtree", "5.3.0", "rbi", "12abd25773d462093d25170088bfec74f1249aa6c9d4daff52013af46c8f9f38"),
    ("en", "sans", "mulish", "5.3.0", "rbi", "cf90f568fa67b97f79dc122118d9677d01b5ba266a00b80764027d0819432c75"),
    ("en", "sans", "asap", "5.3.0", "rbi", "0f8f8b540101429abb84a031f9403b65a49f330ae8baa4e07718dccfeb1cf11e"),
    ("en", "sans", "overpass", "5.3.0", "rbi", "1199885e2bc5353f2927cd457dc6d404c75c57356251f217ecd58c621abd234d"),
    ("en", "sans", "exo-2", "5.3.0", "rbi", "82ef50ecfba884505fc37362224db4c453ffd81956354436aac491938dec83b5"),
    ("en", "sans", "red-hat-text", "5.3.0", "rbi", "afc21b5e80b6a3e00bad564a412e2f889862b34e9e17e31761b880d6609b7243"),
    # en mono
    ("en", "mono", "roboto-mono", "5.3.0", "rbi", "9825f59e72dab7ef3f96e6af79407d97844ba50927ae57f2c9c60199daa9ef62"),
    ("en", "mono", "source-code-pro", "5.3.1", "rbi", "52ff8925aa275d3d28b745760ab78e9ac11276a477c909f1a8e703e0902afcc4"),
    ("en", "mono", "ibm-plex-mono", "5.3.0", "rbi", "60d3c0cfa549cb06fcb8867ee83f994d78e212abfac3bef3275436acb5c4d029"),
    ("en", "mono", "space-mono", "5.3.0", "rbi", "e0cd78cb7aa93e772905297d8d5ad2a3d9eea7a6a12f281a3940a28ec01c19eb"),
    ("en", "mono", "cutive-mono", "5.3.0", "r", "20abe4686dcd4bada0c26d16750a73905671d06ef655e98eb612a01167e12a79"),
    ("en", "mono", "dm-mono", "5.3.0", "ri", "5f34597d1092f13dbaf5ddbc2f4b10b460290d2caebad43f57b78d4c0264edfa"),
    ("en", "mono", "red-hat-mono", "5.3.0", "rbi", "bc7b535c64a064d6527a210c3cf684b1483d154040a7e1250144aab4e09297da"),
    ("en", "mono", "overpass-mono", "5.3.0", "rb", "3c72c65cd98f32ac25f5140edecce8241f096b0f3d0e28387958982befd0ba79"),
    ("en", "mono", "share-tech-mono", "5.3.0", "r", "126fd40c9a7a53bfb224d24b8fd382412d48d9be1daefbe7726af0972a08980a"),
    ("en", "mono", "b612-mono", "5.3.0", "rbi", "49683ba1241403530a957ac8cbaadd83af55002446f9bdfd08161e6c2355b87c"),
    ("en", "mono", "vt323", "5.3.0", "r", "aca9d83456bcebf445920008ac46e275206d48efd8360eb9cc4c6a04d45bcaf0"),
    ("en", "mono", "martian-mono", "5.3.0", "rb", "02df3ad4ce53798cf43f78de795104bb10bcef1cbf99ff5c4d71d96540e6a016"),
    # ko myeongjo
    ("ko", "myeongjo", "song-myung", "5.2.8", "r", "b3e3bd129b6ff64e518db6bf5a8dd25e50f203ba1d5d192742ff858edeade3e6"),
    ("ko", "myeongjo", "hahmlet", "5.3.0", "rbk", "61d862034f96b4504bfc4e237c57ff0090c93772624fe7416682d575aa2cc665"),
    ("ko", "myeongjo", "gowun-batang", "5.3.0", "rb", "305cf15f2df0d335cac472f8f983de0aa9467fa69eb38c7a646199697477def6"),
    ("ko", "myeongjo", "diphylleia", "5.2.7", "r", "753070c03f30493c2d8152b0ea1d49621c11dfba00e7428c16ac55f2c697b8a6"),
    ("ko", "myeongjo", "grandiflora-one", "5.3.0", "r", "efd7a339a5a21f56de149bcc4614c492b6c878e085fce8d5e464d21ab4aafd11"),
    # ko brush
    ("ko", "brush", "black-and-white-picture", "5.3.0", "r", "8c2807617729ba6db2fd885ccee4d36ed5decb142809c4b2d2980a324e6ad942"),
    ("ko", "brush", "east-sea-dokdo", "5.3.0", "r", "339f551a03f269f099637baa38180ec917e6119b6a7b9630e4954e81f59f6a00"),
    # ko handwriting
    ("ko", "handwriting", "gaegu", "5.3.0", "rb", "a288e8e1d8ba3b288bee36088ad49f3e393797b96c2cca489efcbce47d918f6f"),
    ("ko", "handwriting", "gamja-flower", "5.3.0", "r", "39b21876792be48fb2701baacab1a75566c2926ae06a109a4ff73510d77d1d7f"),
    ("ko", "handwriting", "hi-melody", "5.3.0", "r", "7c863e00f03dc1bf22282cc73045afce6d517c055f512e6880ca0f14a3ab662c"),
)
_STYLES = {"r": ("400-normal", "Regular"), "b": ("700-normal", "Bold"), "i": ("400-italic", "Italic"),
           "k": ("900-normal", "Black")}
_SUBSETS = {"en": "latin", "ko": "korean"}


def _fontsource(lang: str, kind: str, family: str, version: str, styles: str, sha256: str,
                license: str = "SIL OFL 1.1") -> tuple[Package, list[Face]]:
    name = f"@fontsource/{family}"
    package = Package(name, f"{name}/-/{family}-{version}.tgz", sha256, license, NPM)
    stem = "".join(part.capitalize() for part in family.split("-"))
    faces = [Face(lang, f"fontsource/{kind}", name,
                  f"package/files/{family}-{_SUBSETS[lang]}-{_STYLES[code][0]}.woff",
                  f"{stem}-{_STYLES[code][1]}.ttf") for code in styles]
    return package, faces


_FONTSOURCE_PACKS = [_fontsource(*spec) for spec in FONTSOURCE]
PACKAGES.update({package.name: package for package, _ in _FONTSOURCE_PACKS})
FACES += tuple(face for _, faces in _FONTSOURCE_PACKS for face in faces)


def deb_members(data: bytes, source: str) -> dict[str, bytes]:
    """The files of a .deb (an `ar` archive whose data.tar.xz, .gz or .zst holds them), by path
    without the leading './'."""
    if not data.startswith(b"!<arch>\n"):
        raise OcrpipeError(f"{source}: not a Debian package (no ar header)")
    pos, payload = 8, None
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        body = data[pos + 60:pos + 60 + size]
        pos += 60 + size + (size % 2)
        if name.startswith("data.tar"):
            payload = (name, body)
    if payload is None:
        raise OcrpipeError(f"{source}: a Debian package without data.tar")
    name, body = payload
    if name.endswith(".xz"):
        body = lzma.decompress(body)
    elif name.endswith(".zst"):
        raise OcrpipeError(f"{source}: zstd-compressed packages are not supported")
    return _tar_files(body, "r:gz" if name.endswith(".gz") else "r:")


def npm_members(data: bytes, source: str) -> dict[str, bytes]:
    """The files of an npm package tarball (gzip-compressed tar), by path (package/...)."""
    try:
        return _tar_files(data, "r:gz")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise OcrpipeError(f"{source}: not an npm package tarball ({e})") from None


def _tar_files(data: bytes, mode: str) -> dict[str, bytes]:
    """The files of a tar archive, by path without a leading './'."""
    with tarfile.open(fileobj=io.BytesIO(data), mode=mode) as tar:
        return {m.name.removeprefix("./"): tar.extractfile(m).read()          # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


def members(data: bytes, package: Package) -> dict[str, bytes]:
    """The files of a fetched package, Debian or npm."""
    return (npm_members if package.archive == NPM else deb_members)(data, package.path)


def fetch(package: Package, cache: Path, opener: Callable[[str], bytes] | None = None) -> bytes:
    """The package's bytes, from `cache` or downloaded into it, checked against its SHA-256."""
    target = cache / Path(package.path).name
    if target.is_file():
        cached = target.read_bytes()
        if hashlib.sha256(cached).hexdigest() == package.sha256:
            return cached
    url = package.url
    try:
        data = (opener or _download)(url)
    except OSError as e:
        raise OcrpipeError(f"fonts install: could not download {url} ({e}); check the network, or put the "
                           f"file in {cache}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != package.sha256:
        raise OcrpipeError(f"fonts install: {url} has SHA-256 {digest[:16]}..., not the pinned "
                           f"{package.sha256[:16]}...; not installed")
    cache.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, data)
    return data


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.read()


def _face_bytes(face: Face, members: dict[str, bytes], source: str) -> bytes:
    if face.member not in members:
        raise OcrpipeError(f"{source}: has no {face.member}")
    data = members[face.member]
    if face.index < 0 and not face.member.endswith(".woff"):
        return data
    from fontTools.ttLib import TTCollection, TTFont

    if face.index >= 0:
        font = TTCollection(io.BytesIO(data)).fonts[face.index]
    else:
        font = TTFont(io.BytesIO(data))
        font.flavor = None            # WOFF unwrapped: the same tables, written as a plain font file
    font.recalcTimestamp = False      # the face's own date, not today's: the same bytes on every install
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def install(langs: tuple[str, ...], root: Path, cache: Path, opener: Callable[[str], bytes] | None = None,
            report: Callable[[str], None] = lambda _: None) -> list[Path]:
    """Install the faces of `langs` under root/<lang>/<class>/; returns the files written
    (a face already there with the same bytes is kept as it is)."""
    written: list[Path] = []
    faces = [f for f in FACES if f.lang in langs]
    for name in dict.fromkeys(f.package for f in faces):
        package = PACKAGES[name]
        report(f"{name}: {package.url}")
        files = members(fetch(package, cache, opener), package)
        mine = [f for f in faces if f.package == name]
        for face in mine:
            data = _face_bytes(face, files, package.path)
            folder = root / face.lang / face.kind
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / face.output
            if not (target.is_file() and target.read_bytes() == data):
                atomic_write_bytes(target, data)
            written.append(target)
        copyright_text = files.get(package.license_member)
        for lang in (dict.fromkeys(f.lang for f in mine) if copyright_text is not None else ()):
            (root / lang / "LICENSES").mkdir(exist_ok=True)
            atomic_write_bytes(root / lang / "LICENSES" / package.license_file, copyright_text)
    return written

