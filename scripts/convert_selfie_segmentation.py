#!/usr/bin/env python3
"""Rebuild models/selfie_segmentation*.onnx from MediaPipe's Selfie Segmentation (Apache-2.0).

    python scripts/convert_selfie_segmentation.py            # npm pack the package, convert, check
    python scripts/convert_selfie_segmentation.py --tflite-dir DIR   # use already unpacked .tflite files

The weights come from the npm registry package @mediapipe/selfie_segmentation@0.1.1675465747
(`package/selfie_segmentation.tflite`, 256x256, and `package/selfie_segmentation_landscape.tflite`,
256x144); the same files are in the PyPI wheel mediapipe==0.10.21. The .tflite graph is small and
uses a handful of ops (CONV_2D, DEPTHWISE_CONV_2D, ADD, MUL, MEAN, RELU, HARD_SWISH, LOGISTIC,
AVERAGE_POOL_2D, RESIZE_BILINEAR, DEQUANTIZE of fp16 weights, and MediaPipe's Convolution2DTransposeBias): this
script reads it with the `tflite` flatbuffer package (pip install tflite) and writes the same
graph as ONNX, NCHW: input `image` [1,3,H,W] RGB 0..1, output `person` [1,1,H,W] (probability,
already through the sigmoid). Every converted model is checked against a TFLite runtime on the
same random and structured inputs: ai-edge-litert when installed (pip install ai-edge-litert),
else OpenCV's TFLite importer; it fails when the outputs differ by more than 1e-5 on average or
5e-4 anywhere (float32 sums in another order: the landscape model's steepest edge pixel differs
by ~2e-4, the mean by ~1e-7).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

PACKAGE = "@mediapipe/selfie_segmentation@0.1.1675465747"
MODELS = {"selfie_segmentation.tflite": "selfie_segmentation.onnx",
          "selfie_segmentation_landscape.tflite": "selfie_segmentation_landscape.onnx"}
TOLERANCE_MAX, TOLERANCE_MEAN = 5e-4, 1e-5
OUT_DIR = Path(__file__).resolve().parent.parent / "models"


# -- reading the flatbuffer -------------------------------------------------------------------
class TfliteGraph:
    def __init__(self, path: Path):
        import tflite

        self.tfl = tflite
        self.model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
        self.graph = self.model.Subgraphs(0)
        self.op_names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}

    def shape(self, t: int) -> list[int]:
        return self.graph.Tensors(t).ShapeAsNumpy().tolist()

    def constant(self, t: int) -> np.ndarray | None:
        tensor = self.graph.Tensors(t)
        buf = self.model.Buffers(tensor.Buffer())
        if buf.DataLength() == 0:
            return None
        dtype = {0: np.float32, 1: np.float16, 2: np.int32, 4: np.int64}[tensor.Type()]
        return np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=dtype).reshape(self.shape(t))

    def ops(self):
        for i in range(self.graph.OperatorsLength()):
            op = self.graph.Operators(i)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            name = self.op_names.get(builtin, str(builtin))
            if name == "CUSTOM":
                name = "CUSTOM:" + code.CustomCode().decode()
            yield name, op

    def options(self, op, cls):
        table = op.BuiltinOptions()
        opts = getattr(self.tfl, cls)()
        opts.Init(table.Bytes, table.Pos)
        return opts


# -- writing ONNX ----------------------------------------------------------------------------------
class Converter:
    def __init__(self, g: TfliteGraph):
        from onnx import helper, numpy_helper

        self.g, self.helper, self.numpy_helper = g, helper, numpy_helper
        self.nodes, self.inits = [], []
        self.consts: dict[int, np.ndarray] = {}
        self.names: dict[int, str] = {}
        self._n = 0

    def fresh(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def init(self, stem: str, array: np.ndarray) -> str:
        name = self.fresh(stem)
        self.inits.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op_type: str, inputs: list[str], out: str | None = None, **attrs) -> str:
        out = out or self.fresh(op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def const(self, t: int) -> np.ndarray | None:
        if t in self.consts:
            return self.consts[t]
        c = self.g.constant(t)
        return None if c is None else c.astype(np.float32) if c.dtype == np.float16 else c

    def value(self, t: int) -> str:
        """The ONNX name of tensor t (an NCHW activation, or a constant laid out for broadcasting)."""
        if t in self.names:
            return self.names[t]
        c = self.const(t)
        if c is None:
            raise ValueError(f"tensor {t} is neither computed nor constant")
        if c.ndim == 4:
            c = c.transpose(0, 3, 1, 2)
        elif c.ndim == 1:
            c = c.reshape(1, -1, 1, 1)
        self.names[t] = self.init("const", c.astype(np.float32))
        return self.names[t]

    def activation(self, x: str, fused: int, out: str) -> str:
        if fused == 0:
            return self.node("Identity", [x], out)
        if fused == 1:
            return self.node("Relu", [x], out)
        if fused == 3:
            return self.node("Clip", [x, self.init("lo", np.float32(0)), self.init("hi", np.float32(6))], out)
        raise NotImplementedError(f"fused activation {fused}")

    def same_pads(self, in_hw, k_hw, strides, dilations, padding: int) -> list[int]:
        if padding != self.g.tfl.Padding.SAME:
            return [0, 0, 0, 0]
        begin, end = [], []
        for size, k, s, d in zip(in_hw, k_hw, strides, dilations):
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            begin.append(total // 2)
            end.append(total - total // 2)
        return begin + end

    def convert(self, name: str, op) -> None:
        g, ins, outs = self.g, op.InputsAsNumpy().tolist(), op.OutputsAsNumpy().tolist()
        out_name = f"t{outs[0]}"
        if name == "DEQUANTIZE":
            c = g.constant(ins[0])
            if c is None:
                raise NotImplementedError("DEQUANTIZE of a computed tensor")
            self.consts[outs[0]] = c.astype(np.float32)
            return
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            depthwise = name == "DEPTHWISE_CONV_2D"
            o = g.options(op, "DepthwiseConv2DOptions" if depthwise else "Conv2DOptions")
            w = self.const(ins[1])
            in_shape = g.shape(ins[0])
            if depthwise:  # [1, KH, KW, C*m] -> [C*m, 1, KH, KW], one group per input channel
                weight, group = w.transpose(3, 0, 1, 2), in_shape[3]
            else:          # [O, KH, KW, I] -> [O, I, KH, KW]
                weight, group = w.transpose(0, 3, 1, 2), 1
            strides = [o.StrideH(), o.StrideW()]
            dilations = [o.DilationHFactor(), o.DilationWFactor()]
            pads = self.same_pads(in_shape[1:3], weight.shape[2:], strides, dilations, o.Padding())
            inputs = [self.names[ins[0]], self.init("w", weight)]
            if len(ins) > 2 and ins[2] >= 0:
                inputs.append(self.init("b", self.const(ins[2])))
            y = self.node("Conv", inputs, kernel_shape=list(weight.shape[2:]), strides=strides,
                          dilations=dilations, pads=pads, group=group)
            self.names[outs[0]] = self.activation(y, o.FusedActivationFunction(), out_name)
        elif name in ("ADD", "MUL"):
            o = g.options(op, "AddOptions" if name == "ADD" else "MulOptions")
            y = self.node(name.title(), [self.value(ins[0]), self.value(ins[1])])
            self.names[outs[0]] = self.activation(y, o.FusedActivationFunction(), out_name)
        elif name in ("RELU", "HARD_SWISH", "LOGISTIC"):
            onnx_op = {"RELU": "Relu", "HARD_SWISH": "HardSwish", "LOGISTIC": "Sigmoid"}[name]
            self.names[outs[0]] = self.node(onnx_op, [self.names[ins[0]]], out_name)
        elif name == "MEAN":
            o = g.options(op, "ReducerOptions")
            nhwc_to_nchw = {0: 0, 1: 2, 2: 3, 3: 1}
            axes = sorted(nhwc_to_nchw[int(a)] for a in self.const(ins[1]).ravel())
            self.names[outs[0]] = self.node("ReduceMean", [self.names[ins[0]]], out_name, axes=axes,
                                            keepdims=int(bool(o.KeepDims())))
        elif name == "AVERAGE_POOL_2D":
            o = g.options(op, "Pool2DOptions")
            k, strides = [o.FilterHeight(), o.FilterWidth()], [o.StrideH(), o.StrideW()]
            pads = self.same_pads(g.shape(ins[0])[1:3], k, strides, [1, 1], o.Padding())
            y = self.node("AveragePool", [self.names[ins[0]]], kernel_shape=k, strides=strides, pads=pads,
                          count_include_pad=0)
            self.names[outs[0]] = self.activation(y, o.FusedActivationFunction(), out_name)
        elif name == "RESIZE_BILINEAR":
            o = g.options(op, "ResizeBilinearOptions")
            h, w = (int(v) for v in self.const(ins[1]).ravel())
            c = g.shape(ins[0])[3]
            mode = ("align_corners" if o.AlignCorners() else "half_pixel" if o.HalfPixelCenters()
                    else "asymmetric")
            sizes = self.init("sizes", np.array([1, c, h, w], np.int64))
            self.names[outs[0]] = self.node("Resize", [self.names[ins[0]], "", "", sizes], out_name,
                                            mode="linear", coordinate_transformation_mode=mode)
        elif name == "CUSTOM:Convolution2DTransposeBias":
            # TfLiteTransposeConvParams {padding, stride_width, stride_height} as three int32
            padding, stride_w, stride_h = np.frombuffer(op.CustomOptionsAsNumpy().tobytes(), np.int32)[:3]
            w = self.const(ins[1])  # [O, KH, KW, I] -> [I, O, KH, KW]
            weight = w.transpose(3, 0, 1, 2)
            in_hw, out_hw = g.shape(ins[0])[1:3], g.shape(outs[0])[1:3]
            k = weight.shape[2:]
            strides = [int(stride_h), int(stride_w)]
            pads = [0, 0, 0, 0]
            for i in range(2):  # SAME: output = input * stride; crop the overhang evenly
                total = max((in_hw[i] - 1) * strides[i] + k[i] - out_hw[i], 0)
                pads[i], pads[i + 2] = total // 2, total - total // 2
            if padding not in (1, 2):
                raise NotImplementedError(f"transpose-conv padding {padding}")
            self.names[outs[0]] = self.node(
                "ConvTranspose", [self.names[ins[0]], self.init("w", weight), self.init("b", self.const(ins[2]))],
                out_name, kernel_shape=list(k), strides=strides, pads=pads)
        else:
            raise NotImplementedError(f"tflite op {name} (extend scripts/convert_selfie_segmentation.py)")

    def build(self):
        from onnx import TensorProto

        g = self.g.graph
        (inp,), (out,) = g.InputsAsNumpy().tolist(), g.OutputsAsNumpy().tolist()
        _, h, w, _ = self.g.shape(inp)
        self.names[inp] = "image"
        for name, op in self.g.ops():
            self.convert(name, op)
        self.nodes.append(self.helper.make_node("Identity", [self.names[out]], ["person"]))
        graph = self.helper.make_graph(
            self.nodes, "selfie_segmentation",
            [self.helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, h, w])],
            [self.helper.make_tensor_value_info("person", TensorProto.FLOAT, [1, 1, h, w])], self.inits)
        model = self.helper.make_model(graph, opset_imports=[self.helper.make_opsetid("", 17)],
                                       producer_name="stylecam convert_selfie_segmentation.py")
        model.ir_version = 8
        model.doc_string = (f"MediaPipe Selfie Segmentation ({PACKAGE}), Apache-2.0, converted to ONNX: "
                            "image [1,3,H,W] RGB 0..1 -> person [1,1,H,W] probability")
        return model, (w, h)


# -- checking against a TFLite runtime ---------------------------------------------------------------
def reference_runner(path: Path):
    """A function NHWC float32 -> [1,H,W,1]: LiteRT if installed, else OpenCV's TFLite importer."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import cv2

        net = cv2.dnn.readNetFromTFLite(str(path))

        def run_cv(x):
            net.setInput(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
            return net.forward().transpose(0, 2, 3, 1)

        return "opencv " + cv2.__version__, run_cv
    it = Interpreter(str(path), num_threads=2)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]

    def run_lite(x):
        it.set_tensor(i, x)
        it.invoke()
        return it.get_tensor(o)

    return "ai-edge-litert", run_lite


def check_inputs(w: int, h: int) -> list[np.ndarray]:
    """Random noise, and a smooth 'head and shoulders' shape (gives outputs far from 0)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    head = ((xx - 0.5) ** 2 / 0.02 + (yy - 0.35) ** 2 / 0.04) < 1
    body = ((xx - 0.5) ** 2 / 0.12 + (yy - 1.0) ** 2 / 0.15) < 1
    shape = np.where((head | body)[..., None], [0.8, 0.6, 0.5], [0.2, 0.5, 0.3])
    return [rng.random((1, h, w, 3), dtype=np.float32), shape[None].astype(np.float32)]


def verify(onnx_path: Path, tflite_path: Path, size) -> float:
    from stylecam.engine import open_session

    sess = open_session(onnx_path, "cpu", log_level=2, spin=True)
    how, ref = reference_runner(tflite_path)
    worst = mean = 0.0
    for x in check_inputs(*size):
        ours = sess.run(None, {"image": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0].transpose(0, 2, 3, 1)
        diff = np.abs(ours - ref(x))
        worst, mean = max(worst, float(diff.max())), max(mean, float(diff.mean()))
    print(f"{onnx_path.name}: |onnx - tflite ({how})| max {worst:.2e}, mean {mean:.2e}")
    if worst > TOLERANCE_MAX or mean > TOLERANCE_MEAN:
        raise SystemExit(f"{onnx_path.name}: the conversion differs from the TFLite model (max {worst:.2e}, "
                         f"mean {mean:.2e}; allowed {TOLERANCE_MAX:g}, {TOLERANCE_MEAN:g}); fix the converter")
    return worst


def fetch_package(dest: Path) -> Path:
    subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=dest, check=True, stdout=subprocess.DEVNULL)
    tgz = next(dest.glob("*.tgz"))
    with tarfile.open(tgz) as tar:
        tar.extractall(dest, filter="data")
    return dest / "package"


def main(argv=None) -> int:
    import onnx

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tflite-dir", type=Path, help="folder with the .tflite files (default: npm pack them)")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help=f"output folder (default {OUT_DIR})")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        src = args.tflite_dir or fetch_package(Path(tmp))
        for tfl_name, onnx_name in MODELS.items():
            model, size = Converter(TfliteGraph(src / tfl_name)).build()
            onnx.checker.check_model(model)
            dst = args.out / onnx_name
            onnx.save(model, str(dst))
            verify(dst, src / tfl_name, size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
