"""Data files shipped in the package (tone plans, country profiles) or given by path."""

from pathlib import Path


def shipped_names(folder):
    """Names of the .toml files in a package `folder` (an importlib.resources Traversable)."""
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def read_data_file(name_or_path, folder, error, *, label, noun, short):
    """The bytes of a shipped file by name ("cn") or of a file by path, with its source
    name and folder (None for a shipped one). `error(where, key, problem)` is raised for a
    file that cannot be read or a name that is not shipped; `label`, `noun` and `short`
    word it ("country profile", "profile", "profile")."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text:
        path = Path(name_or_path)
        try:
            return path.read_bytes(), str(path), path.parent
        except OSError as exc:
            raise error(path, None, f"cannot read the {noun} ({exc.strerror}); give the path "
                                    f"of a .toml {short} file") from None
    names = shipped_names(folder)
    if text not in names:
        raise error(f"{label} {text!r}", None,
                    f"no such {short}; use one of {', '.join(names)} or the path of a .toml "
                    f"{short} file")
    return (folder / f"{text}.toml").read_bytes(), f"{text}.toml", None
