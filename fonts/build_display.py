"""Choose the display typefaces of fonts/display from Debian font packages.

Maintainers only: users get the chosen files with the repository. Needs Tesseract 5 with
`eng` (a legibility check), fontTools, and the unpacked Debian packages named in
fonts/display/README.md, each unpacked into a folder of its own name under one folder
(`apt-get download PACKAGE`, then `dpkg-deb -x PACKAGE_*.deb DIR/PACKAGE`):

    python fonts/build_display.py DIR [--copy --debs DEBS]

A font is kept when it
* draws every ASCII letter and digit and the punctuation of signs (`. , - & ' ! ? : / @ %`),
* is at most MAX_BYTES (the folder has a size budget),
* is legible: Tesseract, a reader that has never seen the face, reads a rendered sample
  (`SAMPLE`, in capitals for caps-only faces) at a character error rate of at most
  MAX_CER (this drops symbol, dingbat, outline-only and joke faces that no sign uses),
* and is the Regular (else the first) face of its family.
Of those, packages take turns (each one's smallest file first, then each one's next) until
the files reach BUDGET, so that many designs come in before many faces of one package.
Without --copy the script only prints the choice; with it, it copies the files unmodified, each
package's copyright file to fonts/LICENSES, and writes fonts/display/README.md from README.in.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from pipeline.synth.fonts import load_font  # noqa: E402

NEEDED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,-&'!?:/@%")
SAMPLE = "Quick brown 2048 jumps"
MAX_BYTES = 120_000
BUDGET = 5_000_000   # bytes for the whole folder
MAX_CER = 0.2
# Text faces of the print families already bundled in fonts/, faces of scripts other than Latin,
# and the families of benchmarks/english.py's held-out print set (Cantarell, Comic Neue), which
# must stay out of every training run.
SKIP_PACKAGES = {"fonts-cmu", "fonts-junicode", "fonts-linuxlibertine", "fonts-mplus", "fonts-sil-gentium",
                 "fonts-cantarell", "fonts-comic-neue"}


# The font license of each package, as its copyright file (fonts/LICENSES/PACKAGE.copyright) gives it.
LICENSES = {
    "fonts-aenigma": "free to redistribute and modify (the author's statement in the copyright file)",
    "fonts-b612": "OFL 1.1 (or EPL 2.0)", "fonts-bebas-neue": "OFL 1.1", "fonts-blankenburg": "OFL 1.1",
    "fonts-cabin": "OFL 1.1", "fonts-dancingscript": "OFL 1.1", "fonts-dosis": "OFL 1.1",
    "fonts-engadget": "LGPL-2", "fonts-fantasque-sans": "OFL 1.1", "fonts-femkeklaver": "CC BY-SA 3.0",
    "fonts-goudybookletter": "public domain", "fonts-humor-sans": "OFL 1.1", "fonts-isabella": "LGPL-2+",
    "fonts-jura": "GPL-3 or OFL 1.1", "fonts-league-mono": "OFL 1.1", "fonts-league-spartan": "OFL 1.1",
    "fonts-lobster": "OFL 1.1", "fonts-lobstertwo": "OFL 1.1", "fonts-monoid": "MIT or OFL 1.1",
    "fonts-mononoki": "OFL 1.1", "fonts-ocr-a": "public domain", "fonts-ocr-b": "public domain / permissive",
    "fonts-opendyslexic": "CC BY 3.0 and the Bitstream Vera license",
    "fonts-oxygen": "GPL-3+ with font exception, or OFL 1.1", "fonts-quicksand": "OFL 1.1",
    "fonts-roboto-slab": "Apache 2.0", "fonts-staypuft": "LGPL-2+", "fonts-tomsontalks": "see the copyright file",
    "fonts-urw-base35": "AGPL-3 with font exception", "fonts-yanone-kaffeesatz": "OFL 1.1",
    "fonts-comfortaa": "OFL 1.1", "fonts-play": "OFL 1.1", "fonts-breip": "OFL 1.1", "fonts-kristi": "OFL 1.1",
    "fonts-rampart": "OFL 1.1", "fonts-sixtyfour": "OFL 1.1", "fonts-hack": "MIT (Bitstream Vera)",
    "fonts-inter": "OFL 1.1", "fonts-firacode": "OFL 1.1", "fonts-sil-andika": "OFL 1.1",
    "fonts-oflb-euterpe": "OFL 1.1", "fonts-radisnoir": "OFL 1.1", "fonts-vollkorn": "OFL 1.1",
    "fonts-jetbrains-mono": "OFL 1.1", "fonts-ecolier-court": "OFL 1.1", "fonts-ecolier-lignes-court": "OFL 1.1",
    "fonts-lexi-gulim": "see the copyright file", "fonts-linux-libertine": "GPL-2 with font exception, or OFL 1.1",
}


def license_of(package: str) -> str:
    return "GPL-2+ with font exception" if package.startswith("fonts-adf-") else LICENSES.get(
        package, "see the copyright file")


def write_readme(kept: list[tuple[Path, str, str, str, float]], versions: dict[str, str]) -> None:
    """fonts/display/README.md: what the folder holds, how it was chosen, one row per file."""
    size = sum(k[0].stat().st_size for k in kept)
    rows = "\n".join(f"| `{path.name}` | {family} | {package} ({versions.get(package, '?')}) | "
                      f"{license_of(package)} | {cer:.2f} |" for path, package, family, _, cer in kept)
    text = (HERE / "display" / "README.in").read_text(encoding="utf-8")
    text = text.replace("{files}", str(len(kept))).replace("{mb}", f"{size / 1e6:.1f}").replace("{rows}", rows)
    (HERE / "display" / "README.md").write_text(text, encoding="utf-8")


def legibility(path: Path, caps: bool) -> float:
    """Tesseract's character error rate on SAMPLE drawn in this font, 48 px, black on white."""
    text = SAMPLE.upper() if caps else SAMPLE
    font = ImageFont.truetype(str(path), 48)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right - left + 40, bottom - top + 40), 255)
    ImageDraw.Draw(image).text((20 - left, 20 - top), text, fill=0, font=font)
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "sample.png"
        image.save(file)
        read = subprocess.run(["tesseract", str(file), "-", "--psm", "7", "-l", "eng"],
                              capture_output=True, text=True, check=False).stdout.strip()
    return Levenshtein.distance(read.lower(), text.lower()) / len(text)


def choose(root: Path) -> list[tuple[Path, str, str, str, float]]:
    """(path, package, family, style, cer) of every font kept, sorted by family and style."""
    by_family: dict[str, list[tuple[Path, str, str, str, float]]] = {}
    for path in sorted(root.rglob("*")):
        if (path.suffix.lower() not in (".ttf", ".otf") or not path.is_file() or path.is_symlink()
                or path.stat().st_size > MAX_BYTES):
            continue
        package = path.relative_to(root).parts[0]
        if package in SKIP_PACKAGES:
            continue
        try:
            font = load_font(path, NEEDED)
        except Exception:  # noqa: BLE001 - a font fontTools cannot read is simply not chosen
            continue
        if font.missing("".join(NEEDED)):
            continue
        cer = legibility(path, font.caps_only)
        if cer <= MAX_CER:
            by_family.setdefault(font.family, []).append((path, package, font.family, font.style, cer))
    kept = []
    for faces in by_family.values():
        regular = [f for f in faces if f[3].lower() in ("regular", "book", "roman", "normal", "medium")]
        kept += (regular or faces)[:1]
    return _within_budget(kept)


def _within_budget(kept: list[tuple[Path, str, str, str, float]]) -> list[tuple[Path, str, str, str, float]]:
    by_package: dict[str, list[tuple[Path, str, str, str, float]]] = {}
    for face in sorted(kept, key=lambda f: (f[0].stat().st_size, f[0].name)):
        by_package.setdefault(face[1], []).append(face)
    turns = sorted((rank, face[0].stat().st_size, face[0].name, face) for faces in by_package.values()
                   for rank, face in enumerate(faces))
    chosen, total = [], 0
    for _, size, _, face in turns:
        if total + size <= BUDGET:
            chosen.append(face)
            total += size
    return sorted(chosen, key=lambda f: (f[2].lower(), f[3]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder with the unpacked Debian packages")
    parser.add_argument("--copy", action="store_true", help="copy the chosen files to fonts/display")
    parser.add_argument("--debs", type=Path, default=None,
                        help="folder of the downloaded .deb files (their versions go in the README)")
    args = parser.parse_args()
    kept = choose(args.root)
    if args.copy:                                   # the folder holds exactly the choice
        for old in (HERE / "display").glob("*.[ot]tf"):
            old.unlink()
    total = 0
    for path, package, family, style, cer in kept:
        total += path.stat().st_size
        print(f"{package}\t{family}\t{style}\t{path.name}\t{cer:.2f}")
        if args.copy:
            shutil.copyfile(path, HERE / "display" / path.name)
    print(f"{len(kept)} files, {len({k[2] for k in kept})} families, {total / 1e6:.1f} MB", file=sys.stderr)
    if args.copy:
        versions = {deb.name.split("_")[0]: deb.name.split("_")[1].replace("%3a", ":")
                    for deb in (args.debs.glob("*.deb") if args.debs else [])}
        for package in {k[1] for k in kept}:
            shutil.copyfile(args.root / package / "usr/share/doc" / package / "copyright",
                            HERE / "LICENSES" / f"{package}.copyright")
        write_readme(kept, versions)


if __name__ == "__main__":
    main()
