"""What the wheel carries: pyproject.toml lists its packages (two folders outside mdm/
ship inside it: seed/ as mdm._seed, migrations/ as mdm.store.migrations), so a folder or
data file left out there would be missing from an installed hub. `.ci/wheel-check`
builds the wheel and runs `mdm seed generate` and `mdm demo` from it."""

from __future__ import annotations

import tomllib
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "setuptools"
]


def _package_folders() -> dict[str, Path]:
    """Every folder holding files, by the package name the wheel gives it."""
    roots = {"mdm": ROOT / "mdm", "matchers": ROOT / "matchers"}
    roots.update({name: ROOT / folder for name, folder in SETUPTOOLS["package-dir"].items()})
    found: dict[str, Path] = {}
    for name, root in roots.items():
        for folder in [root, *root.rglob("*")]:
            parts = folder.relative_to(root).parts
            if not folder.is_dir() or any(p == "__pycache__" or p.startswith(".") for p in parts):
                continue
            if any(f.is_file() for f in folder.iterdir()):
                found[".".join([name, *parts])] = folder
    return found


def test_every_folder_of_the_code_is_a_listed_package() -> None:
    found = set(_package_folders())
    listed = set(SETUPTOOLS["packages"])
    assert found == listed, (
        f"pyproject.toml [tool.setuptools] packages: add {sorted(found - listed)}, "
        f"remove {sorted(listed - found)}"
    )


def test_every_data_file_is_package_data() -> None:
    patterns: dict[str, list[str]] = SETUPTOOLS["package-data"]
    folders = _package_folders()
    missing = []
    for name, folder in folders.items():
        for path in folder.iterdir():
            if not path.is_file() or path.suffix in (".py", ".pyc") or path.name.startswith("."):
                continue
            owners = [p for p in patterns if name == p or name.startswith(p + ".")]
            if not any(
                _glob_matches(PurePosixPath(path.relative_to(folders[owner]).as_posix()), pattern)
                for owner in owners
                for pattern in patterns[owner]
            ):
                missing.append(f"{name}: {path.name}")
    assert not missing, f"not in pyproject.toml [tool.setuptools.package-data]: {missing}"


def _glob_matches(path: PurePosixPath, pattern: str) -> bool:
    """As setuptools globs package data: ``*`` stays within one folder."""
    return len(path.parts) == len(PurePosixPath(pattern).parts) and path.match(pattern)


def test_seed_package_finds_its_data_set() -> None:
    import seed

    assert (seed.DATA_DIR / "truth.csv").is_file()
    assert (seed.DATA_DIR / "erp.toml").is_file()
