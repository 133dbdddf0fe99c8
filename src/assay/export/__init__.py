"""Export a Run's final model (ONNX) and score with it in ONNX Runtime (extra ``assay[export]``).

`export_onnx(run, data)` writes RUN/model.onnx + RUN/export.json; `OnnxEngine(run_dir)`
predicts with it. Imports of onnx / onnxruntime happen inside the functions.
"""

from assay.export.onnx import ExportReport, OnnxExportError, OnnxVerificationError, export_onnx
from assay.export.onnx_engine import OnnxEngine, OnnxModelMissingError

__all__ = ["ExportReport", "OnnxEngine", "OnnxExportError", "OnnxModelMissingError", "OnnxVerificationError",
           "export_onnx"]
