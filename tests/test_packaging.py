"""What an installed wheel relies on: the demo model and examples found in a checkout or in the bundle the wheel
build copies into the package (setup.py), and a lock that pins every requirement within its stated range.
The wheel itself is built, installed and run from outside the checkout by `make wheel-check`."""

from pathlib import Path

from scripts.lock import canonical, read_requirements
from videoexpert import bundled

ROOT = Path(__file__).resolve().parent.parent


def test_a_checkout_finds_its_own_demo_model_and_examples():
    assert bundled.demo_model_dir() == ROOT / "checkpoints" / "videoexpert-demo"
    assert bundled.examples_dir() == ROOT / "assets"


def _install(monkeypatch, tmp_path, checkout: bool, bundle: bool) -> None:
    """Point bundled.py at a fake layout: site-packages (or a checkout) holding videoexpert/[_bundled/]."""
    site = tmp_path / "site"
    package = site / "videoexpert"
    package.mkdir(parents=True)
    if checkout:
        (site / "pyproject.toml").write_text("")
        (site / "checkpoints" / "videoexpert-demo").mkdir(parents=True)
        (site / "checkpoints" / "videoexpert-demo" / "config.json").write_text("{}")
        (site / "assets").mkdir()
        (site / "assets" / "a.mp4").write_bytes(b"")
    if bundle:
        (package / "_bundled" / "checkpoints" / "videoexpert-demo").mkdir(parents=True)
        (package / "_bundled" / "checkpoints" / "videoexpert-demo" / "config.json").write_text("{}")
        (package / "_bundled" / "assets").mkdir()
        (package / "_bundled" / "assets" / "b.mp4").write_bytes(b"")
    monkeypatch.setattr(bundled, "CHECKOUT_DIR", site)
    monkeypatch.setattr(bundled, "BUNDLED_DIR", package / "_bundled")


def test_an_installed_wheel_finds_the_bundled_copy(monkeypatch, tmp_path):
    _install(monkeypatch, tmp_path, checkout=False, bundle=True)
    assert bundled.demo_model_dir() == tmp_path / "site/videoexpert/_bundled/checkpoints/videoexpert-demo"
    assert bundled.examples_dir() == tmp_path / "site/videoexpert/_bundled/assets"


def test_the_checkout_wins_over_a_bundle_and_nothing_is_none(monkeypatch, tmp_path):
    _install(monkeypatch, tmp_path / "both", checkout=True, bundle=True)
    assert bundled.demo_model_dir() == tmp_path / "both/site/checkpoints/videoexpert-demo"
    assert bundled.examples_dir() == tmp_path / "both/site/assets"
    _install(monkeypatch, tmp_path / "none", checkout=False, bundle=False)
    assert bundled.demo_model_dir() is None and bundled.examples_dir() is None


def test_site_packages_is_not_taken_for_a_checkout(monkeypatch, tmp_path):
    """A folder named checkpoints/ or assets/ beside the installed package (another distribution's) is not ours."""
    _install(monkeypatch, tmp_path, checkout=True, bundle=False)
    (tmp_path / "site" / "pyproject.toml").unlink()
    assert bundled.demo_model_dir() is None and bundled.examples_dir() is None


def test_the_lock_pins_every_requirement_within_its_range():
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name] = version
    for req in read_requirements(ROOT / "requirements-dev.txt"):
        name = canonical(req.name)
        if name in ("torch", "torchvision"):   # pinned by the Makefile's TORCH
            assert name not in pins
            continue
        assert name in pins, f"{req} has no pin in requirements.lock: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"requirements.lock pins {name}=={pins[name]}, outside {req}: run `make lock`"
