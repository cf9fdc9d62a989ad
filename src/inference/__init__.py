"""Audio-to-notes model runtime: decode, resample, window, ONNX, notes, MIDI.

Nothing here imports AWS or HTTP code at module level, and importing this
package is cheap: heavy modules (numpy, onnxruntime) load in the submodules
that need them, so the infrastructure code can import `inference.config` and
`inference.pinned` without paying for them. It imports `contract` (variable
names, validators) and nothing else of the project.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
