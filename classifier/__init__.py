"""feedtag: keep customer-feedback tags honest.

The library does all the work; ``cli.py`` only parses options and renders results.
Nothing heavy is imported here, so ``feedtag --help`` stays instant.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("feedtag")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
