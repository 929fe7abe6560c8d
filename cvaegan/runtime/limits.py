"""Upper bounds on what one job may be asked for, shared by the command line's option table
(`cvaegan.cli.options`) and the library functions that allocate by them."""

MAX_SEED = 2**63 - 1   # torch.Generator.manual_seed takes a signed 64-bit integer
MAX_IMAGES = 10_000    # images in one grid or per class of one evaluation / sample call
MAX_ITERS = 200        # Eq. 8 / back-projection iterations of inpaint and superres (the paper shows ≤ 10)
MAX_FIT_STEPS = 10_000  # Adam steps of the z search of inpaint and superres (`cvaegan.apps.fit`)
MAX_EVAL_IMAGES = 200_000  # generated images of one evaluation (per class × classes), held in memory
