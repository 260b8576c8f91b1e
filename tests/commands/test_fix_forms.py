"""``fix`` on every key spelling and file form the scanner knows: nothing lost.

One repository holds every spelling (Fernet, standard base64 with ``+``/``/``, unpadded,
hex, Laravel ``base64:``, 16/24/48/64-byte keys, an opaque random secret) in every dotenv
syntax (bare, double and single quotes, ``export``, spaces, ``NAME: value``, an inline
comment, commented out), and the other rewritable forms: ``.env.local`` with CRLF and a
byte-order mark, ``config/app.env``, ``.envrc``, a committed ``.env.production``, a
``.env.example`` template, compose ``environment:`` as a mapping and as a list. After
``fix --apply``, ``check`` finds nothing, every other byte is where it was, and every
value is still reachable: from the keyring (``--to keyring``) or by decrypting its token
(``--to encrypted``). Real git and the real Secret Service (``scripts/test``).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
from pathlib import Path

import pytest

from importobot.keys.fingerprint import fingerprint
from tests.commands.test_fix import Repo, keyring_ready  # noqa: F401 - fixture
from tests.gitrepo import commit, git
from tests.keygen import contains_key

VARIANTS = {
    "plain": "{n}={v}",
    "dq": '{n}="{v}"',
    "sq": "{n}='{v}'",
    "export": "export {n}={v}",
    "spaces": "{n} = {v}",
    "colon": "{n}: {v}",
    "comment": "{n}={v} # the {n} note",
    "commented": "# {n}={v}",
}


def _spellings() -> dict[str, str]:
    raw = secrets.token_bytes(32)
    while not set(base64.b64encode(raw).decode()) & set("+/"):
        raw = secrets.token_bytes(32)
    std = base64.b64encode(raw).decode()
    alphabet = string.ascii_letters + string.digits + "-_"
    opaque = "".join(secrets.choice(alphabet) for _ in range(40))
    while not (re.search(r"[A-Z]", opaque) and re.search(r"[a-z]", opaque)):
        opaque = "".join(secrets.choice(alphabet) for _ in range(40))
    out = {
        "fernet": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "std": std,
        "nopad": base64.b64encode(secrets.token_bytes(32)).decode().rstrip("="),
        "hex": secrets.token_bytes(32).hex(),
        "laravel": "base64:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "opaque": opaque,
    }
    for n in (16, 24, 48, 64):
        out[f"b{n}"] = base64.b64encode(secrets.token_bytes(n)).decode()
    return out


class Layout:
    """The repository: files, and ``values[(file, variable)] = value``."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.values: dict[tuple[str, str], str] = {}
        self.files: dict[str, bytes] = {}
        lines = ["# every spelling in every syntax"]
        for variant, form in VARIANTS.items():
            for name, value in _spellings().items():  # a fresh value per line
                var = f"{variant}_{name}_SECRET_KEY".upper()
                lines.append(form.format(n=var, v=value))
                self.values[(".env", var)] = value
        lines.append("PLAIN_SETTING=keep-me")
        self._write(".env", ("\n".join(lines) + "\n").encode())
        local = self._put(".env.local", "LOCAL_ENCRYPTION_KEY", _fernet())
        self._write(
            ".env.local",
            b"\xef\xbb\xbf# local\r\nLOCAL_ENCRYPTION_KEY=" + local.encode() + b"\r\nDEBUG=1\r\n",
        )
        hmac = self._put("config/app.env", "APP_HMAC_KEY", secrets.token_bytes(32).hex())
        self._write("config/app.env", f"APP_HMAC_KEY={hmac}\n".encode())
        direnv = self._put(
            ".envrc", "DIRENV_SECRET_KEY", base64.b64encode(secrets.token_bytes(32)).decode()
        )
        self._write(".envrc", f"export DIRENV_SECRET_KEY={direnv}\n".encode())
        prod = self._put(".env.production", "PROD_ENCRYPTION_KEY", _fernet())
        self._write(".env.production", f'PROD_ENCRYPTION_KEY="{prod}"\n'.encode())
        example = self._put(".env.example", "EXAMPLE_ENCRYPTION_KEY", _fernet())
        self._write(".env.example", f"EXAMPLE_ENCRYPTION_KEY={example}\n".encode())
        web = self._put("docker-compose.yml", "WEB_SECRET_KEY", _fernet())
        worker = self._put("docker-compose.yml", "WORKER_ENCRYPTION_KEY", _fernet())
        self._write(
            "docker-compose.yml",
            (
                "services:\n"
                "  web:\n"
                "    image: web\n"
                "    environment:\n"
                '      DEBUG: "1"\n'
                f'      WEB_SECRET_KEY: "{web}"\n'
                "  worker:\n"
                "    image: worker\n"
                "    environment:\n"
                f"      WORKER_ENCRYPTION_KEY: {worker}\n"
            ).encode(),
        )
        listed = self._put("deploy/compose.yaml", "LIST_SECRET_KEY", _fernet())
        self._write(
            "deploy/compose.yaml",
            (
                "services:\n"
                "  api:\n"
                "    image: api\n"
                "    environment:\n"
                "      - MODE=prod\n"
                f"      - LIST_SECRET_KEY={listed}\n"
            ).encode(),
        )
        git(repo.path, "add", ".")
        commit(repo.path, "everything")
        repo.users |= {var for _f, var in self.values}

    def _put(self, path: str, var: str, value: str) -> str:
        self.values[(path, var)] = value
        return value

    def _write(self, rel: str, data: bytes) -> None:
        path = self.repo.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files[rel] = data

    def raws(self) -> list[str]:
        return list(self.values.values())

    def found(self, env: dict[str, str] | None = None) -> set[tuple[str, str]]:
        proc = self.repo.importobot("check", "--no-key-check", "--format", "json", env=env)
        return {(f["path"], f["variable"]) for f in json.loads(proc.stdout)["findings"]}

    def leak(self, text: str) -> bool:
        return any(v in text for v in self.values.values())


def _fernet() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _restored(old: bytes, new: bytes, values: dict[str, str], replacement) -> bool:
    """``new`` is ``old`` with each value replaced as ``replacement(var, value, quote)`` says."""
    text = old.decode("utf-8")
    for var, value in values.items():
        for quote in ("'", '"', ""):
            needle = f"{quote}{value}{quote}"
            if needle in text:
                text = text.replace(needle, replacement(var, value, quote), 1)
                break
    return text.encode("utf-8") == new


@pytest.fixture
def layout(tmp_path: Path, keyring_ready):  # noqa: F811 - the fixture above
    repo = Repo(tmp_path / "app")
    built = Layout(repo)
    yield built
    repo.cleanup()


def test_the_scanner_sees_every_value_first(layout: Layout):
    assert layout.found() == set(layout.values)


def test_to_keyring_loses_nothing_and_leaves_nothing(layout: Layout):
    repo = layout.repo
    proc = repo.importobot("fix", "--apply", "--to", "keyring")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert not layout.leak(out)
    assert layout.found() == set()
    clean = repo.importobot("check", "--no-key-check")
    assert clean.returncode == 0, clean.stdout
    # Every value is in the keyring under its variable.
    for (_path, var), value in layout.values.items():
        assert repo.keyring(var) == value, var
    # Every other byte is kept: the values became ${VAR} (single quotes became double).
    for rel, old in layout.files.items():
        if rel == ".env.example":
            continue  # a template: also gains a keyring marker (below)
        mine = {var: v for (p, var), v in layout.values.items() if p == rel}
        new = (repo.path / rel).read_bytes()

        def ref(var: str, value: str, quote: str) -> str:
            q = '"' if quote == "'" else quote
            return f"{q}${{{var}}}{q}"

        assert _restored(old, new, mine, ref), rel
    # The dotenv family left git (except the template), compose files stay and are staged.
    tracked = set(git(repo.path, "ls-files").split())
    assert {".env", ".env.local", "config/app.env", ".envrc", ".env.production"} & tracked == set()
    assert {".env.example", "docker-compose.yml", "deploy/compose.yaml"} <= tracked
    assert git(repo.path, "diff", "--cached", "--name-only", "--", "docker-compose.yml").strip()
    for rel in (".env", ".env.local", "config/app.env", ".envrc", ".env.production"):
        assert repo.run("git", "check-ignore", "-q", rel).returncode == 0, rel
    example = (repo.path / ".env.example").read_text()
    assert "EXAMPLE_ENCRYPTION_KEY=${EXAMPLE_ENCRYPTION_KEY}\n" in example
    assert '# EXAMPLE_ENCRYPTION_KEY <- OS keyring "' in example
    assert "PLAIN_SETTING=\n" in example and "DEBUG=\n" in example
    # `importobot run` hands every keyring value over (markers in each .env.example).
    shown = repo.importobot("run", "--", "env")
    assert shown.returncode == 0, shown.stderr
    env_lines = set(shown.stdout.splitlines())
    for (path, var), value in layout.values.items():
        if path in (".env", ".env.local", ".envrc", ".env.production", ".env.example"):
            assert f"{var}={value}" in env_lines, var


def test_to_encrypted_keeps_every_value_decryptable(layout: Layout):
    from importobot.security import CredentialManager

    repo = layout.repo
    # The active key is also one of the committed values: it must not be encrypted.
    own = layout.values[(".env", "PLAIN_FERNET_SECRET_KEY")]
    env = {"IMPORTOBOT_ENCRYPTION_KEY": own}
    proc = repo.importobot("fix", "--apply", "--to", "encrypted", env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert not layout.leak(out)
    assert "never encrypted with itself" in out
    assert layout.found(env) == set()
    manager = CredentialManager(key=own)
    texts = {rel: (repo.path / rel).read_text(encoding="utf-8-sig") for rel in layout.files}
    for (path, var), value in layout.values.items():
        if value == own:
            assert repo.keyring(var) == own  # to the keyring instead
            assert f"${{{var}}}" in texts[path]
            continue
        line = next(line for line in texts[path].splitlines() if var in line)
        token = re.search(r"gAAAAA[A-Za-z0-9_=-]+", line)
        assert token is not None, (path, var)
        assert manager.decrypt_credential(token.group(0)) == value, (path, var)
    # Tokens and references only: the env files may stay in git.
    assert ".env" in git(repo.path, "ls-files").split()
    assert not contains_key("".join(texts.values()), base64.urlsafe_b64decode(own))
    assert fingerprint(base64.urlsafe_b64decode(own)) in out


def test_to_env_example_discards_the_values_and_says_rotate(layout: Layout):
    repo = layout.repo
    proc = repo.importobot("fix", "--apply", "--to", "env-example")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "the value is discarded: rotate it" in out
    assert layout.found() == set()
    for (_path, var), _value in layout.values.items():
        assert repo.keyring(var) is None
    assert not layout.leak(
        "".join((repo.path / rel).read_text("utf-8-sig") for rel in layout.files)
    )
