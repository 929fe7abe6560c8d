"""The applications of §5.3, §5.4, §5.6 and the abstract: morph, inpaint, augment, superres.

Library code: the commands in `cvaegan/cli/commands/` are thin wrappers, tests call these directly.
"""
