"""``python -m headwater``: the ``headwater`` command, for when its script is not on PATH."""

from headwater.cli.main import main

if __name__ == "__main__":  # imported (e.g. by pkgutil.walk_packages), it does nothing
    main()
