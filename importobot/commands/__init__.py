"""Commands: what each ``importobot`` subcommand does, behind the thin click layer.

Each module holds the logic of one command family as plain functions (values in, a
result or an exit code out); :mod:`importobot.cli` only parses, calls and renders.
"""
