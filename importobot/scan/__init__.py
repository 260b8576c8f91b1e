"""The scanner behind ``importobot check`` and the block-keys hook.

Import the submodule you need (``importobot.scan.engine``, ``.rules.files``,
``.recognizer``): this package module imports nothing, so the hook's start-up
pays only for what it uses.
"""

from __future__ import annotations
