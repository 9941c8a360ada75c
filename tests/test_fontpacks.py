"""`ocrpipe fonts install`: Debian packages read without dpkg, npm tarballs of WOFF faces, pinned
digests, faces of a collection."""

from __future__ import annotations

import hashlib
import io
import lzma
import tarfile
from pathlib import Path

import pytest

from conftest import SMALL_FONTS
from pipeline import fontpacks
from pipeline.errors import OcrpipeError


def _tar_xz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return lzma.compress(raw.getvalue())


def make_deb(files: dict[str, bytes]) -> bytes:
    """A .deb as dpkg-deb writes one: an ar archive of debian-binary, control and data."""
    members = [("debian-binary", b"2.0\n"), ("control.tar.xz", _tar_xz({"control": b"Package: x\n"})),
               ("data.tar.xz", _tar_xz(files))]
    out = b"!<arch>\n"
    for name, data in members:
        out += f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode() + data
        out += b"\n" if len(data) % 2 else b""
    return out


@pytest.fixture
def collection() -> bytes:
    from fontTools.ttLib import TTCollection, TTFont

    ttc = TTCollection()
    ttc.fonts = [TTFont(str(f), recalcTimestamp=False) for f in SMALL_FONTS[:2]]   # their own dates kept
    out = io.BytesIO()
    ttc.save(out)
    return out.getvalue()


@pytest.fixture
def catalogue(monkeypatch, collection):
    """One pinned package holding a single font, a collection and a copyright file."""
    single = SMALL_FONTS[2].read_bytes()
    deb = make_deb({"usr/share/fonts/a.otf": single, "usr/share/fonts/both.ttc": collection,
                    "usr/share/doc/fonts-test/copyright": b"Copyright: test\n"})
    package = fontpacks.Package("fonts-test", "f/fonts-test/fonts-test_1_all.deb", hashlib.sha256(deb).hexdigest(), "x")
    monkeypatch.setattr(fontpacks, "PACKAGES", {"fonts-test": package})
    monkeypatch.setattr(fontpacks, "FACES", (
        fontpacks.Face("ko", "mono", "fonts-test", "usr/share/fonts/a.otf", "a.otf"),
        fontpacks.Face("ko", "sans", "fonts-test", "usr/share/fonts/both.ttc", "second.ttf", 1),
        fontpacks.Face("zh", "song", "fonts-test", "usr/share/fonts/a.otf", "a.otf"),
    ))
    return deb


def test_every_package_is_named_by_its_place_in_the_debian_pool():
    # pool/main/<first letter of the source package>/<source package>/<package>_<version>_<arch>.deb:
    # a source package that is not named as its binary (clear-sans) lies in its own folder.
    for package in (p for p in fontpacks.PACKAGES.values() if p.archive == fontpacks.ARCHIVE):
        letter, source, name = package.path.split("/")
        assert letter == source[0] and name.startswith(package.name + "_") and name.endswith("_all.deb"), package


def test_every_npm_package_is_a_pinned_fontsource_tarball():
    npm = [p for p in fontpacks.PACKAGES.values() if p.archive == fontpacks.NPM]
    assert npm
    for package in npm:
        scope, family, dash, tarball = package.path.split("/")
        assert (scope, dash) == ("@fontsource", "-") and package.name == f"{scope}/{family}", package
        assert tarball.startswith(family + "-") and tarball.endswith(".tgz"), package


def _npm_tarball(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def test_an_npm_package_s_woff_face_is_installed_as_a_plain_font_with_its_license(tmp_path, monkeypatch):
    from fontTools.ttLib import TTFont

    source = TTFont(str(SMALL_FONTS[0]), recalcTimestamp=False)
    source.flavor = "woff"
    woff = io.BytesIO()
    source.save(woff)
    tgz = _npm_tarball({"package/files/test-face-latin-400-normal.woff": woff.getvalue(),
                        "package/LICENSE": b"SIL Open Font License\n"})
    package, faces = fontpacks._fontsource("en", "serif", "test-face", "1.0.0", "r", hashlib.sha256(tgz).hexdigest())
    monkeypatch.setattr(fontpacks, "PACKAGES", {package.name: package})
    monkeypatch.setattr(fontpacks, "FACES", tuple(faces))
    urls = []
    written = fontpacks.install(("en",), tmp_path / "more", tmp_path / "cache",
                                opener=lambda url: urls.append(url) or tgz)
    assert urls == [fontpacks.NPM + "@fontsource/test-face/-/test-face-1.0.0.tgz"]
    assert [p.relative_to(tmp_path / "more").as_posix() for p in written] == ["en/fontsource/serif/TestFace-Regular.ttf"]
    installed = TTFont(str(written[0]))
    assert installed.flavor is None and written[0].read_bytes()[:4] in (b"\0\1\0\0", b"OTTO")
    assert installed.getBestCmap() == TTFont(str(SMALL_FONTS[0])).getBestCmap()
    assert (tmp_path / "more/en/LICENSES/fontsource-test-face.copyright").read_bytes() == b"SIL Open Font License\n"


def test_a_damaged_npm_tarball_is_one_line():
    package = fontpacks.Package("@fontsource/x", "@fontsource/x/-/x-1.tgz", "0" * 64, "x", fontpacks.NPM)
    with pytest.raises(OcrpipeError, match="x-1.tgz: not an npm package tarball"):
        fontpacks.members(b"not a tarball", package)


def test_install_copies_faces_by_class_with_their_license(tmp_path, catalogue):
    from fontTools.ttLib import TTFont

    urls = []
    written = fontpacks.install(("ko",), tmp_path / "more", tmp_path / "cache",
                                opener=lambda url: urls.append(url) or catalogue)
    assert urls == [fontpacks.ARCHIVE + "f/fonts-test/fonts-test_1_all.deb"]
    assert sorted(p.relative_to(tmp_path / "more").as_posix() for p in written) == ["ko/mono/a.otf",
                                                                                     "ko/sans/second.ttf"]
    assert (tmp_path / "more/ko/mono/a.otf").read_bytes() == SMALL_FONTS[2].read_bytes()     # unchanged
    second, source = TTFont(str(tmp_path / "more/ko/sans/second.ttf")), TTFont(str(SMALL_FONTS[1]))
    assert second["name"].getDebugName(1) == source["name"].getDebugName(1)
    assert second["head"].modified == source["head"].modified      # the face's own date, not the install's
    assert (tmp_path / "more/ko/LICENSES/fonts-test.copyright").read_bytes() == b"Copyright: test\n"
    assert not (tmp_path / "more/zh").exists()
    # a second install reads the package from the cache, not the network
    fontpacks.install(("ko",), tmp_path / "more", tmp_path / "cache", opener=lambda url: pytest.fail(url))


def test_a_package_that_is_not_the_pinned_one_is_refused(tmp_path, catalogue):
    with pytest.raises(OcrpipeError, match="not the pinned"):
        fontpacks.install(("ko",), tmp_path / "more", tmp_path / "cache", opener=lambda url: catalogue + b"x")
    assert not (tmp_path / "more").exists() and not (tmp_path / "cache").exists()


def test_a_cache_that_cannot_be_written_is_one_line(tmp_path, run_cli, monkeypatch):
    from pipeline import resources

    monkeypatch.setattr(resources, "more_fonts_root", lambda: tmp_path / "more")
    (tmp_path / "file").write_text("x")
    result = run_cli("fonts", "install", "ko", "--cache", tmp_path / "file" / "cache")
    assert result.exit_code == 2 and "--cache" in result.output and "is not writable" in result.output
    assert "Traceback" not in result.output


def test_a_failed_download_names_the_url(tmp_path, catalogue):
    def offline(url: str) -> bytes:
        raise OSError("network unreachable")

    with pytest.raises(OcrpipeError, match="could not download .*fonts-test_1_all.deb"):
        fontpacks.install(("zh",), tmp_path / "more", tmp_path / "cache", opener=offline)


def test_the_catalogue_names_only_pinned_packages_and_distinct_files():
    assert {f.package for f in fontpacks.FACES} <= set(fontpacks.PACKAGES)
    targets = [(f.lang, f.kind, f.output) for f in fontpacks.FACES]
    assert len(targets) == len(set(targets))
    assert all(len(p.sha256) == 64 for p in fontpacks.PACKAGES.values())


def test_a_more_set_that_is_not_installed_says_how_to_install_it(tmp_path, run_cli, monkeypatch):
    from pipeline import resources

    monkeypatch.setattr(resources, "more_fonts_root", lambda: tmp_path / "nothing")
    result = run_cli("generate", "--run", tmp_path / "run", "--lang", "ko", "--fonts", "ko-more", "--count", "5")
    assert result.exit_code == 2
    assert "--fonts ko-more: not installed; run `ocrpipe fonts install ko` first" in result.output


def test_every_language_of_the_catalogue_can_be_installed_and_named(run_cli):
    from pipeline import resources

    langs = {f.lang for f in fontpacks.FACES}
    assert langs == set(resources.MORE_LANGS)
    assert {f"{lang}-more" for lang in langs} == set(resources.MORE_SETS)
    result = run_cli("fonts", "install", "xx")
    assert result.exit_code == 2
    assert all(repr(lang) in result.output for lang in langs), result.output


def test_the_english_pack_holds_no_family_the_english_benchmark_holds_out():
    """benchmarks/english.py reads print in Noto, Cantarell, Inconsolata and Comic Neue as
    typefaces no model was trained on: the faces `fonts install en` adds must stay apart."""
    held_out = ("noto", "cantarell", "inconsolata", "comic")
    english = [f for f in fontpacks.FACES if f.lang == "en"]
    assert english
    assert not [f.output for f in english if any(h in f.output.lower() or h in f.package for h in held_out)]
