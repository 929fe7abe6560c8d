"""Pure-torch pieces shared by every model family: the loss equations, the moving-average feature
centres. No file, CLI or device-policy code, and no import of any family."""
