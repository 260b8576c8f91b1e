"""Issue 16 item 4: a minified or very long line yields at most one finding per distinct
value, and the same value on one line is reported once."""

from __future__ import annotations

import base64
import os
import random
import secrets
from collections import Counter

import pytest

from importobot.scan.recognizer import key_shape
from importobot.scan.rules.files import scan_file


def _values() -> list[str]:
    return [
        os.urandom(32).hex(),
        base64.b64encode(os.urandom(48)).decode(),
        secrets.token_urlsafe(48),
        os.urandom(64).hex(),
    ]


@pytest.mark.parametrize("seed", range(20))
def test_a_value_at_a_window_edge_is_one_finding(seed: int) -> None:
    # Lines longer than the reader's long-line threshold are read in windows around the
    # key-ish words; a value across a window's edge was found whole *and* cut short.
    rng = random.Random(seed)
    values = _values()
    shapes = [key_shape(v) for v in values]
    prints = {s.fingerprint for s in shapes if s is not None}
    parts: list[str] = []
    size = 0
    while size < 60000:
        filler = "".join(rng.choice("abc(){}.;, =") for _ in range(rng.randint(1, 4200)))
        v = rng.choice(values)
        form = rng.choice([";secret_key={v};", ',secretKey:"{v}",', " secret_key = {v} "])
        part = filler + form.format(v=v)
        parts.append(part)
        size += len(part)
    found = scan_file("app.min.js", ("".join(parts) + "\n").encode())
    counts = Counter(f.fingerprint for f in found)
    assert set(counts) <= prints, [(f.key_type, f.key_bytes) for f in found]
    assert all(n == 1 for n in counts.values())


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("app.min.js", 'var a={{secretKey:"{k}"}},b={{secretKey:"{k}"}},c="{k}";\n'),
        ("settings.py", "SECRET_KEY = '{k}'; OTHER_SECRET = '{k}'  # same\n"),
        (
            "bundle.js",
            ("x=1;" * 5000)
            + 'k.encryptionKey="{k}";'
            + ("y=2;" * 5000)
            + 'k.encryptionKey="{k}"\n',
        ),
        (".env", "APP_KEY={k} # again: {k}\n"),
    ],
)
def test_the_same_value_on_one_line_is_reported_once(path: str, template: str) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    found = scan_file(path, template.format(k=key).encode())
    assert len(found) == 1
    assert found[0].line == 1
