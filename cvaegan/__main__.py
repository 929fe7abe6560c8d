"""`python -m cvaegan` (what torchrun launches) runs the same app as `cvaegan`."""

from cvaegan.cli.app import main

if __name__ == "__main__":
    main()
