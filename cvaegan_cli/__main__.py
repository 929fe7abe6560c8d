"""`python -m cvaegan_cli` still runs the app, with a one-line notice; use `python -m cvaegan`."""

import sys

from cvaegan.cli.app import main

if __name__ == "__main__":
    print("warning: `python -m cvaegan_cli` is deprecated; use `python -m cvaegan`", file=sys.stderr)
    main()
