"""The pipeline: capture -> preprocess -> engine -> smoothing -> postprocess -> outputs.

Three kinds of threads joined by one-frame LatestSlots: the capture thread, one worker that
runs the per-frame stages in order, and one thread per output. A slow stage drops frames; it
never blocks the one before it. Everything the API may change (style, strength, smoothing,
region, target fps, outputs, on_demand) is applied between frames under a lock.

The worker takes no more frames than the fastest output publishes (the rest are dropped before
any work), and while nobody sees the frames (ondemand.Demand) it idles: the camera released,
the outputs showing the idle card, no inference.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

import numpy as np

from .adaptive import ResolutionController, size_ladder
from .capture import Capture, open_source
from .config import Config, parse_size, processing_bounds
from .engine import Engine
from .framepath import FramePath, FrameSettings, StyleFade
from .ondemand import Demand, RateCap, idle_card
from .segment import weights as region_weights
from .outputs import Output, OutputError, create_output
from .slots import LatestSlot
from .stats import Stats
from .styles import Catalogue

log = logging.getLogger(__name__)
CHECK_IDLE_S = 0.5  # while idle, new outputs are looked for this often (a reader wakes it at once)
PAINTER_SHARE = 0.5  # the painter thread may be busy this share of the time (the frames get the rest)


class Pipeline:
    def __init__(self, cfg: Config, catalogue: Catalogue, *, opener=open_source,
                 engine: Engine | None = None, max_frames: int | None = None):
        self.cfg = cfg
        catalogue = catalogue.for_quality(cfg.processing.quality)  # the network this preset runs
        self.catalogue = catalogue
        self.out_size = parse_size(cfg.output.size, "output.size")
        self.stats = Stats()
        self.max_frames = max_frames
        self._lock = threading.RLock()
        self._stop_lock = threading.Lock()
        self._stop = threading.Event()
        self.done = threading.Event()
        self.style = replace(cfg.style)
        style = catalogue.get(self.style.name)
        self.fade = StyleFade(style.vector, style.default_strength)  # default_strength scales strength
        self.region_fade = StyleFade(np.array(region_weights(self.style.region)))  # fades a region change
        self.engine = engine or Engine(catalogue.model_for(cfg.processing.precision), cfg.processing.providers,
                                       cfg.processing.threads, device=cfg.processing.device)
        self.path = FramePath(self.engine, self.out_size, smoothing=self.style.smoothing, stats=self.stats,
                              paint_every=cfg.processing.paint_every, background=True,
                              sharpen=cfg.processing.sharpen)
        aspect = self.out_size[0] / self.out_size[1]
        top, low = processing_bounds(cfg.processing, self.out_size, self.engine.provider, catalogue.scale)
        ladder = size_ladder(top, low, aspect, max(8, catalogue.stride), out_size=self.out_size)
        self.controller = ResolutionController(ladder, cfg.processing.target_fps,
                                               enabled=cfg.processing.adaptive)
        self.in_slot = LatestSlot()
        inp = cfg.input
        self.capture = Capture(inp.source, self.in_slot, width=inp.width, height=inp.height,
                               fps=inp.fps, loop=inp.loop, opener=opener)
        self.outputs: list[Output] = []
        self.idle_card = idle_card(self.out_size, cfg.output.idle_image)
        self.demand = Demand(cfg.processing.on_demand, cfg.processing.idle_after_s, self._current_outputs)
        self.rate_cap = RateCap()
        self.capped_frames = 0
        self._last_captured: float | None = None  # the source's frame interval (_admit)
        self._source_gap: float | None = None
        self.idle_spells = 0
        self._woke_at: float | None = None
        self.latest: tuple | None = None  # (camera frame, published frame): the panel's preview reads it
        self._worker = threading.Thread(target=self._work, name="worker", daemon=True)
        self.stats.set(provider=self.engine.provider, providers_skipped=self.engine.choice.skipped,
                       precision=cfg.processing.precision)

    def use_stats(self, stats: Stats) -> None:
        """Record timings and counters into `stats` from now on (the bench's recording Stats)."""
        self.stats = self.path.stats = stats

    # -- lifecycle --------------------------------------------------------------
    def add_output(self, out: Output | str) -> Output:
        if isinstance(out, str):
            o = self.cfg.output
            out = create_output(out, self.out_size, o.fps, backend=o.virtualcam_backend,
                                device=o.virtualcam_device)
        out.start()
        with self._lock:
            self.outputs.append(out)
        log.info("output %s started", out.name)
        return out

    def remove_output(self, name: str) -> bool:
        with self._lock:
            found = [o for o in self.outputs if o.name == name]
            self.outputs = [o for o in self.outputs if o.name != name]
        for o in found:
            o.stop()
        return bool(found)

    def _current_outputs(self) -> list[Output]:
        with self._lock:
            return list(self.outputs)

    def start(self) -> "Pipeline":
        if not self.demand.update().run:
            self.capture.pause()  # nobody watches yet: the camera is not even opened
        self.capture.start()
        self.demand.start()
        self._worker.start()
        return self

    def stop(self) -> None:
        # one stop at a time: a second caller (signal + end of input) returns only once the
        # outputs are closed (files finalized)
        with self._stop_lock:
            self._stop.set()
            self.in_slot.close()
            self.demand.stop()
            self.capture.stop()
            if self._worker.ident is not None and self._worker is not threading.current_thread():
                self._worker.join(timeout=10)
            with self._lock:
                outs, self.outputs = self.outputs, []
            for o in outs:
                o.stop()
            self.path.close()
            self.done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    # -- controls (thread-safe) ---------------------------------------------------
    def set_style(self, name: str, transition_ms: int | None = None) -> None:
        style = self.catalogue.get(name)
        with self._lock:
            ms = self.style.transition_ms if transition_ms is None else transition_ms
            self.fade.switch(style.vector, style.default_strength, ms)
            self.style.name = name

    def set_params(self, **params) -> None:
        if "on_demand" in params:  # outside self._lock: Demand takes its own lock, then ours
            self.demand.set_mode(params.pop("on_demand"))
        with self._lock:
            for key, value in params.items():
                if key == "target_fps":
                    self.controller.set_target(float(value))
                elif key == "sharpen":
                    self.path.upsampler.sharpen = float(value)  # read once per frame
                elif key == "smoothing":
                    self.path.set_smoothing(value)
                    self.style.smoothing = value
                elif key == "region":
                    self.region_fade.switch(np.array(region_weights(value)), 1.0, self.style.transition_ms)
                    self.style.region = value
                else:
                    setattr(self.style, key, value)

    # -- the per-frame path ---------------------------------------------------------
    def _work(self) -> None:
        try:
            while not self._stop.is_set():
                if not self.demand.running:
                    self._idle()
                    continue
                frame = self.in_slot.get(timeout=0.5)
                if frame is None:
                    if self.capture.state == "ended":
                        log.info("input ended")
                        break
                    continue
                if not self._admit(frame):
                    continue
                self._process(frame)
                if self._woke_at is not None and not frame.placeholder:
                    self.stats.set(wake_ms=round((time.monotonic() - self._woke_at) * 1000, 1))
                    self._woke_at = None
                if self.max_frames and self.stats.frames >= self.max_frames:
                    break
        except Exception:
            log.exception("worker stopped by an unexpected error")
        finally:
            if not self._stop.is_set():
                threading.Thread(target=self.stop, daemon=True).start()

    def _admit(self, frame) -> bool:
        """No more frames than the fastest output publishes, never above its fps (RateCap), and,
        from a source clearly faster than that (a file), only when a paced output (virtual
        camera, file, stream) will have written its last one by the time this one is done. The
        rest are dropped here, before any work; the controller may spend the spare time on a
        larger size. A source at about the output rate (a camera asked for it) is not held back
        by the outputs' ticks: its next frame comes only a period later, and a frame dropped at
        the tick would leave the tick after it without a new one (29.99 stylized frames a second
        at 30 fps where the tick test gave 26.6)."""
        outputs = self._current_outputs()
        fps = max((o.fps for o in outputs), default=0.0)
        if fps != self.rate_cap.fps:
            self.rate_cap.fps = fps
            self.controller.set_rate_cap(fps)
            self.capture.request_rate(fps)  # a camera need not deliver more than that
        if self._last_captured is not None:
            gap = frame.captured_at - self._last_captured
            self._source_gap = gap if self._source_gap is None else 0.9 * self._source_gap + 0.1 * gap
        self._last_captured = frame.captured_at
        faster = fps > 0 and self._source_gap is not None and self._source_gap * fps < 1 / 1.5
        work_s = (self.controller.s.ema_ms or 0.0) / 1000  # how long this frame will take
        wanted = not faster or any(o.wants_frame(work_s) for o in outputs)
        if wanted and self.rate_cap.admit(frame.captured_at):
            return True
        self.capped_frames += 1
        return False

    def _idle(self) -> None:
        """Nobody sees the frames: release the camera, show the idle card, and wait (no work)
        until Demand says someone does; then resume with the same warm engine."""
        log.info("idle: %s", self.demand.decision.reason)
        self.capture.pause()
        self.idle_spells += 1
        carded: set[int] = set()
        while not self._stop.is_set():
            self.demand.changed.clear()
            outputs = self._current_outputs()
            for o in outputs:
                if id(o) not in carded:  # outputs added while idle get the card too
                    o.set_idle(True)
                    o.send(self.idle_card)
                    carded.add(id(o))
            if self.demand.running:
                break
            self.demand.changed.wait(CHECK_IDLE_S)
        if self._stop.is_set():
            return
        log.info("running: %s", self.demand.decision.reason)
        for o in outputs:
            o.set_idle(False)
        with self._lock:
            self.path.reset()  # the last frame before the pause is no guide for the next
        self.in_slot.get(timeout=0)  # nor is a frame captured just before the camera was released
        self._woke_at = time.monotonic()
        self.capture.resume()

    def _process(self, frame) -> None:
        st = self.stats
        t0 = time.perf_counter()
        with self._lock:
            style = replace(self.style)
            settings = FrameSettings(vector=self.fade.vector(), proc_size=self.controller.size,
                                     strength=style.strength * self.fade.gain,
                                     keep_color=style.preserve_color, mirror=style.mirror,
                                     enabled=style.enabled, region=tuple(self.region_fade.vector()))
            outputs = list(self.outputs)
        # a painting expected within what this frame leaves of the budget is waited for (a GPU:
        # every frame painted); a longer one is carried onto the frames until it is done
        self.path.wait_ms = max(0.0, self.controller.budget_ms - self.path.own_ms)
        result = self.path(frame.image, settings, placeholder=frame.placeholder)
        if style.enabled and not frame.placeholder:
            self._observe((time.perf_counter() - t0) * 1000, settings.proc_size)
        self.latest = (frame.image, result)
        with st.timer("output"):
            for o in outputs:
                o.send(result)
        st.stage("capture", self.capture.read_ms)
        st.frame_done(frame.captured_at)

    def _observe(self, frame_ms: float, proc_size: tuple[int, int]) -> None:
        """What the controller sizes the painting by. Painting every frame in this thread: the
        frame's time. With a painter thread: the painting's time, spread over the `paint_every`
        frames one painting may serve, and doubled: the painter may keep the machine busy half
        the time, the frames (preprocess, carry, upsampler, finish) need the rest. Their own
        time hardly depends on the painting's size, so it does not move it; a painting made at
        another size than the current one says nothing about it yet."""
        path, ctl = self.path, self.controller
        if path.painter is None:
            ctl.observe(frame_ms, path.fixed_ms)
        elif path.paint_size == proc_size:
            ctl.observe(path.paint_ms / path.paint_every / PAINTER_SHARE, 0.0)

    # -- reporting ------------------------------------------------------------------------
    def status(self) -> dict:
        with self._lock:
            style = replace(self.style)
            outputs = [o.describe() for o in self.outputs]
        snap = self.stats.snapshot()
        demand = self.demand.decision.describe()
        if self.done.is_set():
            demand.update(state="stopped", state_reason="stopped")
        snap.update({
            **demand,
            "on_demand": self.demand.mode,
            "idle_spells": self.idle_spells,
            "rate_cap_fps": self.rate_cap.fps,
            "capped_frames": self.capped_frames,
            "style": style.name,
            "enabled": style.enabled,
            "strength": style.strength,
            "preserve_color": style.preserve_color,
            "mirror": style.mirror,
            "smoothing": style.smoothing,
            "region": style.region,
            "target_fps": self.controller.target_fps,
            "sharpen": self.path.upsampler.sharpen,
            "output_size": "%dx%d" % self.out_size,
            "input": self.capture.describe(),
            "outputs": outputs,
            "dropped_frames": self.in_slot.dropped + sum(o["dropped"] for o in outputs),
            "paint_every": self.path.paint_every,
            "paintings": self.path.painted,
            **self.controller.describe(),
        })
        return snap


def open_outputs(pipeline: Pipeline, specs: list[str]) -> list[str]:
    """Start the requested outputs. 'auto': the virtual camera if there is one, else a preview
    window if there is a display, else an MP4 file. Returns notes for the user."""
    notes = []
    for spec in specs:
        if spec != "auto":
            pipeline.add_output(spec)
            continue
        try:
            pipeline.add_output("virtualcam")
            continue
        except OutputError as exc:
            notes.append(str(exc))
        try:
            pipeline.add_output("window")
            notes.append("showing a preview window instead")
            continue
        except OutputError as exc:
            notes.append(str(exc))
        pipeline.add_output("file:stylecam-output.mp4")
        notes.append("writing stylecam-output.mp4 instead (no virtual camera, no display)")
    return notes
