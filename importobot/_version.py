"""The version: the single source hatchling writes into the package metadata.

Also the documentation URL (pyproject ``[project.urls] Documentation``; a test keeps them
equal): messages and files importobot writes link there, never to a file outside the wheel.
"""

__version__ = "0.2.0"

DOCS_URL = "https://github.com/importobot/importobot/tree/main/docs"
