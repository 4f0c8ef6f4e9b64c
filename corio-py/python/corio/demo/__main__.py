"""``python -m corio.demo``: see ``corio.demo``."""

from corio.demo import run

if __name__ == "__main__":
    run()
