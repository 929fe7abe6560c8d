"""`cvaegan prepare`: raw downloads -> class folders of aligned crops plus `dataset.json`.

Library entry points other commands use: `align.align_face` / `align.canonical_template`,
`detect.FaceDetector`, `io.load_photo`; `runner.prepare` runs a whole kind.
"""
