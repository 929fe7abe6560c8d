"""`python -m cvaegan_cli` (what torchrun launches) runs the same app as `cvaegan`."""

from cvaegan_cli.app import main

if __name__ == "__main__":
    main()
