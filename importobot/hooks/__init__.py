"""pre-commit hooks. Each module has ``main(argv) -> int`` (D17): a console script and
the ``importobot hook …`` click command both call it. The hook path imports no click,
argparse, cryptography, keyring (unless the keyring is configured), json or typing.
"""
