"""The installation's own SECRET_KEY file, for when the environment gives none.

`make run` calls `python -m convodesk.keyfile` before the first start: a random key is written to
`var/secret_key` (mode 0600, in the ignored `var/` folder), once, and every later start reads the
same file. Nothing here imports Django: settings read it while they are being built.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

DEFAULT_VAR_DIR = Path(__file__).resolve().parent.parent / "var"


def default_path() -> Path:
    return Path(os.environ.get("CONVODESK_VAR_DIR", DEFAULT_VAR_DIR)) / "secret_key"


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def ensure(path: Path) -> str:
    """The key in `path`, written first if missing. The new key is written to a private temporary
    file and linked into place, so processes starting together all end up with the same key."""
    key = read(path)
    if key:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(50) + "\n")
        try:
            os.link(tmp, path)  # fails if another process linked its key first; theirs wins
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return read(path)


def main() -> int:
    path = default_path()
    existed = bool(read(path))
    ensure(path)
    if not existed:
        print(f"Wrote a new secret key for this installation to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
