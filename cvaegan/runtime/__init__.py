"""What every job needs from its environment: devices and precision, distributed training, atomic
writes and locks, checkpoint files, user-facing errors, progress bars. Knows no model family."""
