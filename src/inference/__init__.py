"""Audio-to-notes model runtime: decode, resample, window, ONNX, notes, MIDI.

Nothing here imports AWS or HTTP code at module level, and importing this
package is cheap: heavy modules (numpy, onnxruntime) load in the submodules
that need them, so the infrastructure code can import `contract.env_names`
and `inference.config` without paying for them.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
